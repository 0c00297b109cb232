//! The HTML report in a real browser: headless Chromium renders a report
//! from a real lab run, and the screenshot must show the charts and the
//! timeline of four requests on the event loop.
//!
//! `scripts/test.sh` installs Chromium (Debian's `chromium` package).

use std::path::{Path, PathBuf};
use std::process::Command;

use waiter_lab::LabReport;

fn chromium() -> PathBuf {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            let out = Command::new("which").arg(name).output().ok()?;
            out.status
                .success()
                .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        })
        .expect("Chromium is needed for this test (scripts/test.sh installs it)")
}

/// Runs headless Chromium on `page` with the flags that keep it off the
/// network and out of any profile.
fn headless(page: &Path, dir: &Path, extra: &[String]) -> std::process::Output {
    Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium")
}

#[test]
fn the_report_renders_its_charts_in_chromium() {
    let json = include_str!("fixtures/quick-report.json");
    let report = LabReport::from_json(json).unwrap();
    let dir = std::env::temp_dir().join(format!("waiter-lab-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("report.html");
    std::fs::write(&page, report.to_html()).unwrap();

    // The DOM the browser built: three charts with a line per model, and
    // the timeline.
    let dom = headless(&page, &dir, &["--dump-dom".into()]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert_eq!(dom.matches("<svg").count(), 4, "{dom}");
    for model in ["event-loop", "threaded", "pool", "prefork"] {
        assert!(dom.contains(model), "{model} missing");
    }
    let timeline = report
        .timeline
        .as_ref()
        .expect("the fixture has a timeline");
    assert!(dom.contains(&timeline.summary()), "{dom}");

    // The timeline's laid-out box, measured by the browser: the report has
    // no script, so a copy of the page gets a probe that writes it down.
    let probe = dir.join("probe.html");
    std::fs::write(
        &probe,
        report.to_html().replace(
            "</body>",
            "<script>const r = document.getElementById('timeline').getBoundingClientRect();\
             document.body.setAttribute('data-box', [r.left, r.top, r.width, r.height].map(Math.round).join(','));</script></body>",
        ),
    )
    .unwrap();
    let out = headless(
        &probe,
        &dir,
        &["--window-size=1280,1700".into(), "--dump-dom".into()],
    );
    let out = String::from_utf8_lossy(&out.stdout);
    let bx: Vec<f64> = out
        .split("data-box=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .map(|s| s.split(',').filter_map(|v| v.parse().ok()).collect())
        .unwrap_or_default();
    assert_eq!(bx.len(), 4, "no timeline box in {out}");
    let (left, top, width, height) = (bx[0], bx[1], bx[2], bx[3]);
    assert!(width > 1000.0 && height > 250.0, "timeline box {bx:?}");
    assert!(
        top + height < 1700.0,
        "the timeline is below the screenshot: {bx:?}"
    );

    // The pixels: a screenshot, decoded, must show the charts' line colours.
    let shot = dir.join("shot.png");
    let out = headless(
        &page,
        &dir,
        &[
            "--window-size=1280,1700".into(),
            format!("--screenshot={}", shot.display()),
        ],
    );
    assert!(
        shot.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1280, 1700));
    let px = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(px).collect();
    let near = |p: &[u8], rgb: [u8; 3]| (0..3).all(|i| p[i].abs_diff(rgb[i]) < 40);
    let ink = pixels.iter().filter(|p| !near(p, [255, 255, 255])).count();
    assert!(
        ink * 100 > pixels.len(),
        "the page is nearly blank: {ink} of {} pixels",
        pixels.len()
    );
    // The event loop's green and the threaded model's red lines are drawn.
    for (name, rgb) in [("green", [0x0a, 0x7d, 0x3b]), ("red", [0xc0, 0x39, 0x2b])] {
        let n = pixels.iter().filter(|p| near(p, rgb)).count();
        assert!(n > 200, "only {n} {name} pixels: a chart line is missing");
    }
    // Each request's colour is drawn (its slices on the thread, its
    // hatched wait), and only inside the timeline's box.
    let width_px = info.width as usize;
    for (name, rgb) in [
        ("A orange", [0xe8, 0x59, 0x0c]),
        ("B cyan", [0x10, 0x98, 0xad]),
        ("C pink", [0xd6, 0x33, 0x6c]),
        ("D violet", [0x70, 0x48, 0xe8]),
    ] {
        let at: Vec<(f64, f64)> = pixels
            .iter()
            .enumerate()
            .filter(|(_, p)| (0..3).all(|i| p[i].abs_diff(rgb[i]) < 12))
            .map(|(i, _)| ((i % width_px) as f64, (i / width_px) as f64))
            .collect();
        assert!(
            at.len() > 150,
            "only {} {name} pixels: the timeline is missing",
            at.len()
        );
        let outside = at
            .iter()
            .filter(|(x, y)| *x < left || *x > left + width || *y < top || *y > top + height)
            .count();
        assert!(
            outside == 0,
            "{outside} {name} pixels outside the timeline {bx:?}"
        );
    }
    // The loop lane's idle gap: a wide run of its grey on one row.
    let idle = [0xe9, 0xec, 0xef];
    let widest = (0..info.height as usize)
        .map(|y| {
            let row = &pixels[y * width_px..(y + 1) * width_px];
            let (mut run, mut best) = (0, 0);
            for p in row {
                run = if (0..3).all(|i| p[i] == idle[i]) {
                    run + 1
                } else {
                    0
                };
                best = best.max(run);
            }
            best
        })
        .max()
        .unwrap_or(0);
    assert!(
        widest > 300,
        "no idle gap wider than {widest} px in the loop lane"
    );
    // Kept for a look: the screenshot of the last run.
    let _ = std::fs::copy(&shot, std::env::temp_dir().join("waiter-lab-report.png"));
    std::fs::remove_dir_all(dir).unwrap();
}
