//! Docker MCP Toolkit: clients reach it through one stdio entry (`docker mcp gateway run`,
//! conventionally `MCP_DOCKER`); the servers really enabled are the `registry` map of
//! `~/.docker/mcp/registry.yaml`. Each is reported as a stdio server run by the gateway, with the
//! image from its `ref` (or Docker's catalog convention `mcp/<name>` when `ref` is empty) and
//! origin `docker-gateway`. Secrets live in Docker's credential store, never in these files.

use serde_json::Value;

use super::{Candidate, ClientSource, Parsed};
use crate::discovery::entry::RawServer;
use crate::discovery::formats::FileFormat;
use crate::platform::UserCtx;
use crate::secrets::Secret;
use muster_proto::v1::Transport;

pub struct DockerMcpToolkit;

impl ClientSource for DockerMcpToolkit {
    fn id(&self) -> &'static str {
        "docker-mcp-toolkit"
    }

    fn user_files(&self, user: &UserCtx, out: &mut Vec<Candidate>) {
        out.push(Candidate::user(user.home.join(".docker/mcp/registry.yaml"), FileFormat::Yaml, "registry"));
    }

    fn parse(&self, _file: &Candidate, doc: &Value) -> Parsed {
        let mut parsed = Parsed::default();
        match doc.get("registry") {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (name, entry) in map {
                    let image = entry
                        .get("ref")
                        .and_then(Value::as_str)
                        .filter(|r| !r.is_empty())
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("mcp/{name}"));
                    parsed.servers.push(RawServer {
                        name: name.clone(),
                        transport: Some(Transport::Stdio),
                        command: Some("docker".into()),
                        args: ["run", "-i", "--rm", image.as_str()].into_iter().map(Secret::new).collect(),
                        origin: Some("docker-gateway".into()),
                        ..RawServer::default()
                    });
                }
            }
            Some(_) => parsed.wrong_shape("registry", "an object of servers"),
        }
        parsed
    }
}
