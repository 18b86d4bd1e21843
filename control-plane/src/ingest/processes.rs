//! The MCP server processes of a report as the store keeps them with the host: the agent's
//! `muster.v1.McpProcess` messages (masked command lines, matched server ids, listening sockets),
//! length-delimited one after the other. Pure: encoding here, decoding for the endpoint page.
//!
//! Nothing is added to or taken from what the agent sent, so what it masked stays masked.

use muster_proto::prost::Message;
use muster_proto::v1::McpProcess;

/// The stored form of `processes`.
pub fn encode(processes: &[McpProcess]) -> Vec<u8> {
    let mut out = Vec::new();
    for process in processes {
        // Writing into a Vec grows it; encoding into one cannot fail.
        let _ = process.encode_length_delimited(&mut out);
    }
    out
}

/// The processes of a stored form; an error when the bytes are not one.
pub fn decode(mut bytes: &[u8]) -> Result<Vec<McpProcess>, muster_proto::prost::DecodeError> {
    let mut processes = Vec::new();
    while !bytes.is_empty() {
        processes.push(McpProcess::decode_length_delimited(&mut bytes)?);
    }
    Ok(processes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use muster_proto::v1::Listener;

    use super::*;

    #[test]
    fn processes_round_trip_and_garbage_is_an_error() {
        let processes = vec![
            McpProcess {
                pid: 7,
                exe: "node".into(),
                server_ids: vec!["s1".into()],
                listeners: vec![Listener { address: "0.0.0.0".into(), port: 8080, protocol: "tcp".into() }],
                ..Default::default()
            },
            McpProcess { pid: 8, ..Default::default() },
        ];
        assert_eq!(decode(&encode(&processes)).unwrap(), processes);
        assert_eq!(decode(&encode(&[])).unwrap(), Vec::new());
        assert!(decode(&[0xff, 0xff, 0xff]).is_err());
    }
}
