//! The HTML report in a real browser: headless Chromium renders a report
//! from a real lab run, and the screenshot must show the charts.
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

    // The DOM the browser built: three charts with a line per model.
    let dom = headless(&page, &dir, &["--dump-dom".into()]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert_eq!(dom.matches("<svg").count(), 3, "{dom}");
    for model in ["event-loop", "threaded", "pool", "prefork"] {
        assert!(dom.contains(model), "{model} missing");
    }

    // The pixels: a screenshot, decoded, must show the charts' line colours.
    let shot = dir.join("shot.png");
    let out = headless(
        &page,
        &dir,
        &[
            "--window-size=1280,1000".into(),
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
    assert_eq!((info.width, info.height), (1280, 1000));
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
    std::fs::remove_dir_all(dir).unwrap();
}
