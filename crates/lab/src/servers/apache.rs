//! Apache 2.4 prefork with mod_php: the app written in PHP
//! (`apache_app.php`, embedded in the lab), served by the installed
//! `apache2` from an `httpd.conf` the lab generates in a temporary
//! directory. No system configuration is read: the configuration names
//! every module and path, `PHPIniDir` points at the lab's own `php.ini`
//! and `PHP_INI_SCAN_DIR` is empty.
//!
//! The shape matches the prefork model: N worker processes (`StartServers`
//! = `MinSpareServers` = `MaxSpareServers` = `ServerLimit` =
//! `MaxRequestWorkers` = N), each serving one connection at a time and
//! blocking on its own persistent database connection
//! (`stream_socket_client` with `STREAM_CLIENT_PERSISTENT`); keep-alive on
//! with no request limit and waiter's keep-alive timeout; waiter's listen
//! backlog. `usleep` for [`Wait::Timer`]; CPU work burnt in the worker
//! until the process has used the same CPU time as the Rust models' work
//! (measured with `getrusage` as it burns, so neither the interpreter's
//! speed nor OPcache's JIT changes it). OPcache is on, as in any production
//! PHP; no access log is written.
//!
//! Running as root, Apache's workers switch to `www-data` (or `nobody`),
//! which is why the temporary directory and its files are world-readable;
//! as any other user they stay that user.
//!
//! Apache runs in a process group of its own (it signals its whole group
//! when it stops) and, where `setpriv` exists, receives `SIGTERM` when the
//! thread that started it exits: call [`start`] from a thread that
//! outlives the server (the lab's model child does so from `main`).
//!
//! Invariants:
//! - [`start`] returns once the port accepts connections and all N
//!   workers exist.
//! - Stopping sends `SIGTERM` to the parent (Apache's immediate stop, which
//!   ends the workers), kills whatever is left after 3 s, and returns
//!   only when no process of the tree runs; then the temporary directory
//!   is removed.

use std::fmt::Write as _;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::external::{self, TempDir};
use super::RunningServer;
use crate::app::{AppConfig, Wait};

/// The app, in PHP; `/*LAB_CONFIG*/` is replaced by its settings.
const APP_PHP: &str = include_str!("apache_app.php");

/// Why the model cannot run here.
pub const NOT_INSTALLED: &str =
    "apache2 with mod_php is not installed: apt-get install apache2 libapache2-mod-php";

/// Where Debian installs Apache's modules.
const MODULES: &str = "/usr/lib/apache2/modules";

/// An Apache installation with mod_php.
#[derive(Debug, Clone)]
pub struct Install {
    /// The `apache2` binary.
    pub apache2: PathBuf,
    /// The directory of Apache's modules.
    pub modules: PathBuf,
    /// mod_php (`libphp8.2.so`).
    pub php_module: PathBuf,
    /// The PHP version of mod_php (`8.2`).
    pub php_version: String,
}

/// The installed Apache with mod_php and the prefork MPM, or why there is
/// none.
pub fn installed() -> Result<Install, String> {
    let missing = || NOT_INSTALLED.to_owned();
    let apache2 = external::find_program("apache2", &["/usr/sbin", "/usr/local/sbin", "/sbin"])
        .ok_or_else(missing)?;
    let modules = PathBuf::from(MODULES);
    let needed = ["mod_mpm_prefork.so", "mod_authz_core.so", "mod_alias.so"];
    if !needed.iter().all(|m| modules.join(m).is_file()) {
        return Err(missing());
    }
    // The newest libphpX.Y.so.
    let mut php: Vec<(String, PathBuf)> = std::fs::read_dir(&modules)
        .map_err(|_| missing())?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let v = name.strip_prefix("libphp")?.strip_suffix(".so")?.to_owned();
            Some((v, e.path()))
        })
        .collect();
    php.sort_by_key(|(v, _)| {
        v.split('.')
            .map(|n| n.parse::<u32>().unwrap_or(0))
            .collect::<Vec<_>>()
    });
    let (php_version, php_module) = php.pop().ok_or_else(missing)?;
    Ok(Install {
        apache2,
        modules,
        php_module,
        php_version,
    })
}

/// `Apache/2.4.x, PHP 8.y` for reports, or empty when missing.
pub fn version() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| {
        let Ok(i) = installed() else {
            return String::new();
        };
        let apache = external::first_line(&i.apache2, &["-v"])
            .and_then(|l| l.split_whitespace().nth(2).map(str::to_owned))
            .unwrap_or_else(|| "Apache".into());
        format!("{apache}, PHP {}", i.php_version)
    })
}

/// Starts Apache with `processes` prefork workers serving the app on
/// 127.0.0.1 (a free port).
pub fn start(cfg: AppConfig, processes: usize) -> io::Result<RunningServer> {
    let install = installed().map_err(io::Error::other)?;
    let n = processes.max(1);
    let dir = TempDir::new("apache")?;
    dir.write("php.ini", PHP_INI)?;
    write_app(&dir, &cfg, external::cpu_time_of(cfg.cpu_iters))?;
    let mut last = String::new();
    // The port is chosen before Apache binds it; another process may take
    // it meanwhile, so a few attempts.
    for _ in 0..3 {
        let port = free_port()?;
        dir.write("httpd.conf", &httpd_conf(&install, dir.path(), port, n)?)?;
        let stderr = std::fs::File::create(dir.path().join("stderr.log"))?;
        let mut child = apache_command(&install)
            .arg("-f")
            .arg(dir.path().join("httpd.conf"))
            .arg("-d")
            .arg(dir.path())
            .arg("-DFOREGROUND")
            .env("PHP_INI_SCAN_DIR", "")
            .env_remove("PHPRC")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        match wait_ready(&mut child, addr, n + 1) {
            Ok(()) => {
                let pid = child.id();
                return Ok(RunningServer::external(addr, pid, move || {
                    stop(&mut child);
                    drop(dir);
                }));
            }
            Err(e) => {
                stop(&mut child);
                last = format!(
                    "apache2 did not start: {e}: {} {}",
                    dir.tail("stderr.log", 3),
                    dir.tail("error.log", 3)
                );
                if !last.contains("Address already in use") {
                    break;
                }
            }
        }
    }
    Err(io::Error::other(last))
}

/// `apache2` in a process group of its own: Apache signals its whole
/// group when it stops, which must not reach the lab. Under `setpriv
/// --pdeathsig TERM` when available, so Apache also stops if the thread
/// that started it dies without stopping it (an interrupted lab).
fn apache_command(install: &Install) -> Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = match external::find_program("setpriv", &["/usr/bin", "/bin"]) {
        Some(setpriv) => {
            let mut c = Command::new(setpriv);
            c.args(["--pdeathsig", "TERM", "--"]).arg(&install.apache2);
            c
        }
        None => Command::new(&install.apache2),
    };
    cmd.process_group(0);
    cmd
}

/// SIGTERM to the parent, then whatever is left is killed after 3 s.
fn stop(child: &mut Child) {
    external::stop_tree(child, Duration::from_secs(3), |c| {
        if let Some(p) = external::Proc::of(c.id()) {
            external::signal(&[p], "TERM");
        }
    });
}

/// Waits until `addr` accepts and the tree has `procs` processes.
fn wait_ready(child: &mut Child, addr: SocketAddr, procs: usize) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("exited ({status})"));
        }
        let accepts = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok();
        if accepts && crate::measure::process_tree(child.id()).len() >= procs {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err("not ready after 20 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A port that was free a moment ago on 127.0.0.1.
fn free_port() -> io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}

/// PHP's settings: OPcache on (without JIT, PHP's default), no
/// `X-Powered-By`, no default `Content-Type`, errors to Apache's log.
const PHP_INI: &str = "\
engine = On
zend_extension = opcache
opcache.enable = 1
opcache.validate_timestamps = 0
expose_php = Off
default_mimetype = \"\"
display_errors = Off
log_errors = On
memory_limit = 128M
";

/// Writes `app.php` with the settings of `cfg` and `cpu`, the CPU time each
/// request burns.
fn write_app(dir: &TempDir, cfg: &AppConfig, cpu: Duration) -> io::Result<()> {
    let wait = match cfg.wait {
        Wait::Db => "db",
        Wait::Timer => "timer",
        Wait::None => "none",
    };
    let db = cfg
        .db_addr
        .map_or_else(String::new, |a| format!("tcp://{a}"));
    let config = format!(
        "const LAB_WAIT = '{wait}';\nconst LAB_DB = '{db}';\nconst LAB_DELAY_US = {};\nconst LAB_CPU_SECS = {:.9};",
        cfg.delay.as_micros(),
        cpu.as_secs_f64()
    );
    dir.write("app.php", &APP_PHP.replacen("/*LAB_CONFIG*/", &config, 1))?;
    Ok(())
}

/// The user and group the workers run as when Apache starts as root.
fn unprivileged() -> io::Result<(String, String)> {
    let names = |file: &str| -> Vec<String> {
        std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(':').next().map(str::to_owned))
            .collect()
    };
    let users = names("/etc/passwd");
    let groups = names("/etc/group");
    let pick = |list: &[String], wanted: &[&str]| {
        wanted
            .iter()
            .find(|w| list.iter().any(|n| n == *w))
            .map(|w| (*w).to_owned())
    };
    match (
        pick(&users, &["www-data", "nobody"]),
        pick(&groups, &["www-data", "nogroup", "nobody"]),
    ) {
        (Some(u), Some(g)) => Ok((u, g)),
        _ => Err(io::Error::other(
            "running as root, Apache needs an unprivileged user (www-data or nobody)",
        )),
    }
}

/// The whole configuration: nothing is read from the system's.
fn httpd_conf(install: &Install, dir: &Path, port: u16, n: usize) -> io::Result<String> {
    let d = dir.display();
    let m = install.modules.display();
    let php_name = install
        .php_module
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or("");
    // PHP 8's module is `php_module`; PHP 7's and 5's carry the number.
    let php_id = match php_name.as_bytes().get(6) {
        Some(b'7') => "php7_module",
        Some(b'5') => "php5_module",
        _ => "php_module",
    };
    let mut c = String::new();
    let _ = writeln!(
        c,
        "# Generated by waiter lab: the lab's app on Apache prefork and mod_php."
    );
    let _ = writeln!(c, "ServerRoot \"{d}\"");
    let _ = writeln!(c, "DefaultRuntimeDir \"{d}\"");
    let _ = writeln!(c, "PidFile \"{d}/httpd.pid\"");
    let _ = writeln!(c, "ErrorLog \"{d}/error.log\"");
    let _ = writeln!(c, "LogLevel warn");
    let _ = writeln!(
        c,
        "LoadModule mpm_prefork_module \"{m}/mod_mpm_prefork.so\""
    );
    let _ = writeln!(c, "LoadModule authz_core_module \"{m}/mod_authz_core.so\"");
    let _ = writeln!(c, "LoadModule alias_module \"{m}/mod_alias.so\"");
    let _ = writeln!(
        c,
        "LoadModule {php_id} \"{}\"",
        install.php_module.display()
    );
    if external::effective_uid() == Some(0) {
        let (user, group) = unprivileged()?;
        let _ = writeln!(c, "User {user}\nGroup {group}");
    }
    let keep_alive = waiter_http::ServerConfig::default()
        .keep_alive_timeout
        .as_secs()
        .max(1);
    let backlog = super::BACKLOG;
    let _ = write!(
        c,
        "\
ServerName 127.0.0.1
ServerTokens Prod
Listen 127.0.0.1:{port}
ListenBacklog {backlog}
StartServers {n}
MinSpareServers {n}
MaxSpareServers {n}
ServerLimit {n}
MaxRequestWorkers {n}
MaxConnectionsPerChild 0
KeepAlive On
KeepAliveTimeout {keep_alive}
MaxKeepAliveRequests 0
Timeout 60
PHPIniDir \"{d}\"
DocumentRoot \"{d}\"
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory \"{d}\">
    Require all granted
</Directory>
AliasMatch \"^/\" \"{d}/app.php\"
<Files \"app.php\">
    SetHandler application/x-httpd-php
</Files>
"
    );
    Ok(c)
}
