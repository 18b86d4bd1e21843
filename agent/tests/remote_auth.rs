//! The remote auth probe with the real binary: fake MCP servers on 127.0.0.1 (plain HTTP and
//! TLS under a per-run CA the agent trusts through `SSL_CERT_FILE`), one per posture plus a slow
//! one, an unreachable port and one that redirects elsewhere, each recording every request it
//! gets. `muster-agent scan --root IMAGE` classifies each; no generated secret planted in the
//! configuration (headers, env, URL userinfo and query) or in the agent's environment reaches
//! any server; `--offline` sends nothing; answers are kept a day in the state dir; the proxy
//! named by `HTTP_PROXY` is used.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::convert::Infallible;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// How a fake server behaves.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// Answers `initialize` (and opens an SSE stream on `/sse`) without credentials.
    Open,
    /// 401 with `resource_metadata`, metadata with PKCE S256, CIMD and `iss`.
    OAuth,
    /// 401 without `resource_metadata`; well-known metadata only; no PKCE; dynamic registration.
    Partial,
    /// 401 and nothing else.
    Keyed,
    /// Never answers.
    Slow,
    /// 302 to another server.
    Redirect(u16),
    /// Records and answers 404 (the redirect's target).
    Elsewhere,
}

type Log = Arc<Mutex<Vec<String>>>;

struct Fake {
    port: u16,
    log: Log,
}

impl Fake {
    fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

fn response(status: u16, headers: &[(&str, String)], body: String) -> Response<Full<Bytes>> {
    let mut r = Response::builder().status(status);
    for (k, v) in headers {
        r = r.header(*k, v);
    }
    r.body(Full::new(Bytes::from(body))).unwrap()
}

async fn handle(kind: Kind, scheme: &str, port: u16, req: Request<Incoming>, log: Log) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let mut text = format!("{} {}\n", parts.method, parts.uri);
    for (k, v) in &parts.headers {
        text.push_str(&format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())));
    }
    text.push_str(&String::from_utf8_lossy(&body));
    log.lock().unwrap().push(text);
    let base = format!("{scheme}://127.0.0.1:{port}");
    let path = parts.uri.path().to_string();
    let json_ct = ("content-type", "application/json".to_string());
    let initialize_result = json!({"jsonrpc": "2.0", "id": 1, "result": {"protocolVersion": "2025-11-25",
        "capabilities": {}, "serverInfo": {"name": "fake", "version": "1"}}});
    match kind {
        Kind::Slow => std::future::pending().await,
        Kind::Elsewhere => response(404, &[], String::new()),
        Kind::Redirect(to) => response(302, &[("location", format!("http://127.0.0.1:{to}/login"))], String::new()),
        Kind::Open => match (parts.method.as_str(), path.as_str()) {
            ("GET", "/sse") => response(
                200,
                &[("content-type", "text/event-stream".into())],
                "event: endpoint\ndata: /messages?session=1\n\n".into(),
            ),
            ("POST", "/mcp") => {
                response(200, &[json_ct, ("mcp-session-id", "fake-session".into())], initialize_result.to_string())
            }
            ("DELETE", "/mcp") => response(200, &[], String::new()),
            _ => response(404, &[], String::new()),
        },
        Kind::OAuth => match path.as_str() {
            "/mcp" => response(
                401,
                &[(
                    "www-authenticate",
                    format!(r#"Bearer resource_metadata="{base}/.well-known/oauth-protected-resource/mcp", scope="x""#),
                )],
                String::new(),
            ),
            "/.well-known/oauth-protected-resource/mcp" => response(
                200,
                &[json_ct],
                json!({"resource": format!("{base}/mcp"), "authorization_servers": [base]}).to_string(),
            ),
            "/.well-known/oauth-authorization-server" => response(
                200,
                &[json_ct],
                json!({"issuer": base, "authorization_endpoint": format!("{base}/authorize"),
                    "token_endpoint": format!("{base}/token"), "code_challenge_methods_supported": ["S256"],
                    "client_id_metadata_document_supported": true,
                    "authorization_response_iss_parameter_supported": true})
                .to_string(),
            ),
            _ => response(404, &[], String::new()),
        },
        Kind::Partial => match path.as_str() {
            "/mcp" => response(401, &[("www-authenticate", r#"Bearer realm="fake""#.into())], String::new()),
            "/.well-known/oauth-protected-resource" => response(
                200,
                &[json_ct],
                json!({"resource": format!("{base}/mcp"), "authorization_servers": [format!("{base}/tenant")]})
                    .to_string(),
            ),
            // An issuer with a path: the OpenID path-appended form, the third the spec tries.
            "/tenant/.well-known/openid-configuration" => response(
                200,
                &[json_ct],
                json!({"issuer": format!("{base}/tenant"), "authorization_endpoint": format!("{base}/authorize"),
                    "registration_endpoint": format!("{base}/register"),
                    "code_challenge_methods_supported": ["plain"]})
                .to_string(),
            ),
            _ => response(404, &[], String::new()),
        },
        Kind::Keyed => response(401, &[], String::new()),
    }
}

/// Starts a fake server on 127.0.0.1:0, over TLS when `tls` is given.
async fn start(kind: Kind, tls: Option<Arc<rustls::ServerConfig>>) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let log: Log = Arc::default();
    let server_log = log.clone();
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let log = server_log.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let log = log.clone();
                    async move { Ok::<_, Infallible>(handle(kind, scheme, port, req, log).await) }
                });
                let http = hyper::server::conn::http1::Builder::new();
                match acceptor {
                    Some(a) => {
                        if let Ok(tls) = a.accept(stream).await {
                            let _ = http.serve_connection(TokioIo::new(tls), service).await;
                        }
                    }
                    None => {
                        let _ = http.serve_connection(TokioIo::new(stream), service).await;
                    }
                }
            });
        }
    });
    Fake { port, log }
}

/// A CA (its PEM, for `SSL_CERT_FILE`) and a server config with a certificate for 127.0.0.1.
fn tls() -> (String, Arc<rustls::ServerConfig>) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.distinguished_name.push(DnType::CommonName, "remote auth test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &Issuer::from_params(&ca_params, &ca_key))
        .unwrap();
    let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key_der)
        .unwrap();
    (ca.pem(), Arc::new(config))
}

/// A generated secret: 40 random alphanumerics (the detector's entropy rule finds it).
fn secret() -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 40];
    getrandom::fill(&mut bytes).unwrap();
    bytes.iter().map(|b| A[usize::from(*b) % A.len()] as char).collect()
}

/// Writes `~/.claude.json` of user `dev` in an image.
fn write_config(root: &Path, servers: &Value) {
    let home = root.join("home/dev");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join(".claude.json"), json!({"mcpServers": servers}).to_string()).unwrap();
}

struct Run {
    json: Value,
    stderr: String,
    took: Duration,
}

async fn scan(root: &Path, state: &Path, extra: &[&str], env: &[(&str, String)]) -> Run {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_muster-agent"));
    cmd.args(["scan", "--format", "json", "--os", "linux", "--no-processes", "--root"])
        .arg(root)
        .arg("--state-dir")
        .arg(state)
        .args(extra);
    for var in
        ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy", "no_proxy"]
    {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let out = cmd.output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "scan failed: {stderr}");
    Run { json: serde_json::from_slice(&out.stdout).unwrap(), stderr, took: started.elapsed() }
}

fn server<'a>(run: &'a Run, name: &str) -> &'a Value {
    run.json["servers"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("{name}"))
}

fn finding_ids(s: &Value) -> Vec<String> {
    s["findings"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_string()).collect()
}

/// Every fake server, the image naming them, and the secrets planted in it.
struct World {
    dir: tempfile::TempDir,
    ca_file: std::path::PathBuf,
    fakes: Vec<(&'static str, Fake)>,
    secrets: Vec<String>,
    agent_env_secret: String,
}

impl World {
    async fn new() -> World {
        let (ca_pem, tls) = tls();
        let open = start(Kind::Open, None).await;
        let oauth = start(Kind::OAuth, Some(tls.clone())).await;
        let partial = start(Kind::Partial, Some(tls.clone())).await;
        let keyed = start(Kind::Keyed, Some(tls)).await;
        let slow = start(Kind::Slow, None).await;
        let elsewhere = start(Kind::Elsewhere, None).await;
        let redirect = start(Kind::Redirect(elsewhere.port), None).await;
        // A port that was open and is closed again: connection refused.
        let down = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();

        let secrets: Vec<String> = (0..6).map(|_| secret()).collect();
        let agent_env_secret = secret();
        let [s_bearer, s_apikey, s_user, s_query, s_env, s_open_query] = secrets.clone().try_into().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let servers = json!({
            "open": {"type": "http", "url": format!("http://127.0.0.1:{}/mcp?token={s_open_query}", open.port),
                     "headers": {"X-Api-Key": s_apikey}},
            "open-sse": {"type": "sse", "url": format!("http://127.0.0.1:{}/sse", open.port)},
            "oauth": {"type": "http", "url": format!("https://127.0.0.1:{}/mcp", oauth.port)},
            "partial": {"type": "http", "url": format!("https://127.0.0.1:{}/mcp", partial.port)},
            "keyed": {"type": "http",
                      "url": format!("https://dev:{s_user}@127.0.0.1:{}/mcp?api_key={s_query}&region=eu", keyed.port),
                      "headers": {"Authorization": format!("Bearer {s_bearer}"), "X-Token": "${MCP_TOKEN}"},
                      "env": {"SERVICE_TOKEN": s_env}},
            "down": {"type": "http", "url": format!("http://127.0.0.1:{down}/mcp")},
            "slow": {"type": "http", "url": format!("http://127.0.0.1:{}/mcp", slow.port)},
            "redirect": {"type": "http", "url": format!("http://127.0.0.1:{}/mcp", redirect.port)},
        });
        write_config(dir.path(), &servers);
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca_pem).unwrap();
        let fakes = vec![
            ("open", open),
            ("oauth", oauth),
            ("partial", partial),
            ("keyed", keyed),
            ("slow", slow),
            ("redirect", redirect),
            ("elsewhere", elsewhere),
        ];
        World { dir, ca_file, fakes, secrets, agent_env_secret }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("SSL_CERT_FILE", self.ca_file.to_string_lossy().into_owned()),
            ("MCP_TOKEN", self.agent_env_secret.clone()),
        ]
    }

    fn fake(&self, name: &str) -> &Fake {
        &self.fakes.iter().find(|(n, _)| *n == name).unwrap().1
    }

    fn all_requests(&self) -> Vec<String> {
        self.fakes.iter().flat_map(|(_, f)| f.requests()).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_posture_is_classified_by_the_real_binary_and_no_credential_is_sent() {
    let world = World::new().await;
    let state = world.dir.path().join("state");
    let run = scan(world.dir.path(), &state, &["--probe-timeout", "2s"], &world.env()).await;

    let posture = |name: &str| server(&run, name)["auth"]["posture"].as_str().unwrap_or("absent").to_string();
    let auth = |name: &str| server(&run, name)["auth"].clone();
    assert_eq!(posture("open"), "none", "{}", auth("open"));
    assert_eq!(posture("open-sse"), "none", "{}", auth("open-sse"));
    assert_eq!(posture("oauth"), "oauth", "{}", auth("oauth"));
    assert_eq!(posture("partial"), "oauth-partial", "{}", auth("partial"));
    assert_eq!(posture("keyed"), "static-key", "{}", auth("keyed"));
    assert_eq!(posture("down"), "unknown", "{}", auth("down"));
    assert_eq!(posture("slow"), "unknown", "{}", auth("slow"));
    assert_eq!(posture("redirect"), "unknown", "{}", auth("redirect"));

    let oauth = auth("oauth");
    assert_eq!(oauth["verified"], true);
    assert_eq!(oauth["discovery"], "header");
    assert_eq!((oauth["pkce_s256"].clone(), oauth["client_id_metadata_documents"].clone()), (json!(true), json!(true)));
    assert_eq!(oauth["iss_parameter"], true);
    let partial = auth("partial");
    assert_eq!(partial["discovery"], "well_known");
    assert_eq!(partial["missing"], json!(["pkce_s256"]));
    assert_eq!((partial["dynamic_registration"].clone(), partial["pkce_s256"].clone()), (json!(true), json!(false)));
    assert_eq!(auth("keyed")["verified"], true);
    assert_eq!(auth("keyed")["config_key"], true);
    assert!(auth("down")["reason"].as_str().unwrap().contains("connection refused"), "{}", auth("down"));
    assert!(auth("slow")["reason"].as_str().unwrap().contains("timed out"), "{}", auth("slow"));
    assert!(auth("redirect")["reason"].as_str().unwrap().contains("redirect"), "{}", auth("redirect"));
    // The slow server is cut off at its bound, not waited for.
    assert!(run.took < Duration::from_secs(15), "scan took {:?}", run.took);

    assert!(finding_ids(server(&run, "open")).contains(&"MUSTER-REMOTE-NO-AUTH".to_string()));
    let partial_ids = finding_ids(server(&run, "partial"));
    assert!(partial_ids.contains(&"MUSTER-REMOTE-OAUTH-NO-PKCE".to_string()), "{partial_ids:?}");
    assert!(partial_ids.contains(&"MUSTER-REMOTE-OAUTH-DCR-ONLY".to_string()), "{partial_ids:?}");
    let oauth_ids = finding_ids(server(&run, "oauth"));
    assert!(!oauth_ids.iter().any(|id| id.starts_with("MUSTER-REMOTE-")), "{oauth_ids:?}");

    // The redirect was not followed.
    assert!(world.fake("elsewhere").requests().is_empty(), "{:?}", world.fake("elsewhere").requests());
    // The probes arrived (so the search below searched something) ...
    assert!(
        world.fake("keyed").requests().iter().any(|r| r.starts_with("POST /mcp")),
        "{:?}",
        world.fake("keyed").requests()
    );
    assert!(world.fake("open").requests().iter().any(|r| r.starts_with("POST /mcp")));
    // ... and carried no planted secret: not whole, not any 12-character part of it.
    let requests = world.all_requests();
    let mut needles: Vec<&str> = world.secrets.iter().map(String::as_str).collect();
    needles.push(&world.agent_env_secret);
    for needle in needles {
        for start in 0..=needle.len() - 12 {
            let window = &needle[start..start + 12];
            for r in &requests {
                assert!(!r.contains(window), "a planted secret reached a server:\n{r}");
            }
        }
    }
    for r in &requests {
        let lower = r.to_ascii_lowercase();
        assert!(
            !lower.contains("\nauthorization:") && !lower.contains("\nx-token:") && !lower.contains("\nx-api-key:"),
            "{r}"
        );
        assert!(!r.contains("region=eu") && !r.contains("api_key"), "a query of the config was sent: {r}");
    }
    assert!(!run.stderr.contains(&world.secrets[0]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_sends_nothing_and_answers_are_kept_a_day() {
    let world = World::new().await;
    let state = world.dir.path().join("state");

    let offline = scan(world.dir.path(), &state, &["--offline"], &world.env()).await;
    assert!(world.all_requests().is_empty(), "--offline probed: {:?}", world.all_requests());
    let keyed = &server(&offline, "keyed")["auth"];
    assert_eq!((keyed["posture"].as_str(), keyed["verified"].as_bool()), (Some("static-key"), Some(false)));
    assert_eq!(server(&offline, "oauth")["auth"]["reason"], "not probed: offline");
    assert_eq!(server(&offline, "oauth")["auth"]["posture"], "unknown");

    let first = scan(world.dir.path(), &state, &["--probe-timeout", "2s"], &world.env()).await;
    let asked = world.all_requests().len();
    assert!(asked > 0);
    assert!(state.join("remote-auth.json").is_file());
    let second = scan(world.dir.path(), &state, &["--probe-timeout", "2s"], &world.env()).await;
    assert_eq!(world.all_requests().len(), asked, "a kept answer was asked again");
    for name in ["open", "oauth", "partial", "keyed", "slow", "redirect", "down"] {
        assert_eq!(server(&first, name)["auth"], server(&second, name)["auth"], "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_from_the_environment_is_used() {
    // The "proxy" answers as an open MCP server: the agent can only have reached the name
    // below, which no resolver knows, through it.
    let proxy = start(Kind::Open, None).await;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &json!({"far": {"type": "http", "url": "http://mcp.muster-test.invalid/mcp"}}));
    let env = [("HTTP_PROXY", format!("http://127.0.0.1:{}", proxy.port))];
    let run = scan(dir.path(), &dir.path().join("state"), &["--probe-timeout", "2s"], &env).await;
    assert_eq!(server(&run, "far")["auth"]["posture"], "none", "{}", server(&run, "far")["auth"]);
    assert!(
        proxy.requests().iter().any(|r| r.starts_with("POST http://mcp.muster-test.invalid/mcp")),
        "{:?}",
        proxy.requests()
    );
}

/// Reads the daemon's `inventory.json` until `done` holds for it, or fails at the deadline.
async fn poll_inventory(path: &Path, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(json) = std::fs::read(path).ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            && done(&json)
        {
            return json;
        }
        assert!(Instant::now() < deadline, "{what}: {:?}", std::fs::read_to_string(path));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn auth_of<'a>(inv: &'a Value, name: &str) -> &'a Value {
    &inv["servers"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap()["auth"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_reports_without_waiting_and_probes_in_the_background() {
    let open = start(Kind::Open, None).await;
    let slow = start(Kind::Slow, None).await;
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        &json!({
            "open": {"type": "http", "url": format!("http://127.0.0.1:{}/mcp", open.port)},
            "slow": {"type": "http", "url": format!("http://127.0.0.1:{}/mcp", slow.port)},
        }),
    );
    let state = dir.path().join("state");
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_muster-agent"));
    cmd.args(["run", "--os", "linux", "--debounce", "100ms", "--root"])
        .arg(dir.path())
        .arg("--state-dir")
        .arg(&state)
        .arg("--socket")
        .arg(dir.path().join("local.sock"))
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    for var in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"] {
        cmd.env_remove(var);
    }
    let mut daemon = cmd.spawn().unwrap();
    // The open server's answer is reported while the slow one (10 s per host by default) is
    // still being asked: no scan waited for it.
    let inv = poll_inventory(&state.join("inventory.json"), "open server reported as none", |inv| {
        auth_of(inv, "open")["posture"] == "none"
    })
    .await;
    assert_eq!(auth_of(&inv, "slow")["reason"], "not probed yet", "{}", auth_of(&inv, "slow"));
    assert_eq!(auth_of(&inv, "slow")["posture"], "unknown");
    assert!(open.requests().iter().any(|r| r.starts_with("POST /mcp")));
    assert!(state.join("remote-auth.json").is_file());
    daemon.kill().await.unwrap();
}
