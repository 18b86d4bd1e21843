//! The posture of one remote server: a pure function of what it answered (or why it was not
//! asked) and whether its configuration gives it a key. The order of the questions is the
//! point: a server that answers `initialize` without credentials has no authentication, whatever
//! else it publishes; one that publishes OAuth metadata is judged against the specification; a
//! refusal without metadata is a static key when the configuration holds one.

use muster_proto::v1 as pb;

use super::Timed;
use super::probe::{Discovery, InitReply, Observation};

pub const MISSING_PRM: &str = "protected_resource_metadata";
pub const MISSING_AUTHORIZATION_SERVERS: &str = "authorization_servers";
pub const MISSING_AS_METADATA: &str = "authorization_server_metadata";
pub const MISSING_PKCE: &str = "pkce_s256";
pub const MISSING_RESOURCE: &str = "resource_match";

/// Judges one server. `answer` is what it said; without one, `not_probed` says why.
pub fn judge(answer: Option<&Timed>, not_probed: Option<&str>, config_key: bool) -> pb::RemoteAuth {
    let mut auth = pb::RemoteAuth { config_key, ..pb::RemoteAuth::default() };
    let set = |auth: &mut pb::RemoteAuth, posture: pb::AuthPosture, reason: String| {
        auth.posture = posture as i32;
        auth.reason = reason;
    };
    let keyed_or_unknown = |auth: &mut pb::RemoteAuth, why: String| {
        if config_key {
            set(auth, pb::AuthPosture::StaticKey, format!("{why}; the configuration gives it a key"));
        } else {
            set(auth, pb::AuthPosture::Unknown, why);
        }
    };
    let Some(timed) = answer else {
        keyed_or_unknown(&mut auth, not_probed.unwrap_or("not probed").to_string());
        return auth;
    };
    auth.probed_at = timed.probed_at;
    let answer = match &timed.observation {
        Observation::Unreachable { reason } => {
            keyed_or_unknown(&mut auth, format!("unreachable: {reason}"));
            return auth;
        }
        Observation::Answered(a) => a,
    };
    auth.verified = true;
    if answer.initialize == InitReply::Mcp {
        set(&mut auth, pb::AuthPosture::None, "answered initialize without credentials".into());
        return auth;
    }
    if let Some(prm) = &answer.resource_metadata {
        auth.discovery = match prm.discovery {
            Discovery::Header => "header",
            Discovery::WellKnown => "well_known",
        }
        .into();
        auth.authorization_server = prm.authorization_server.clone().unwrap_or_default();
        let mut missing = Vec::new();
        if !prm.resource_matches {
            missing.push(MISSING_RESOURCE);
        }
        match (&prm.authorization_server, &answer.as_metadata) {
            (None, _) => missing.push(MISSING_AUTHORIZATION_SERVERS),
            (Some(_), None) => missing.push(MISSING_AS_METADATA),
            (Some(_), Some(m)) => {
                auth.pkce_s256 = m.pkce_s256;
                auth.client_id_metadata_documents = m.client_id_metadata_documents;
                auth.dynamic_registration = m.dynamic_registration;
                auth.iss_parameter = m.iss_parameter;
                if !m.pkce_s256 {
                    missing.push(MISSING_PKCE);
                }
            }
        }
        auth.missing = missing.iter().map(|m| m.to_string()).collect();
        let refusal = match &answer.initialize {
            InitReply::Refused { status, .. } => format!("refused without credentials ({status})"),
            InitReply::Redirect { status } => format!("redirected ({status})"),
            InitReply::Other { status } => format!("answered {status}"),
            InitReply::Mcp => String::new(),
        };
        if missing.is_empty() {
            set(&mut auth, pb::AuthPosture::Oauth, format!("{refusal}; OAuth metadata as the MCP specification asks"));
        } else {
            let what = missing.join(", ");
            set(&mut auth, pb::AuthPosture::OauthPartial, format!("{refusal}; OAuth metadata lacks: {what}"));
        }
        return auth;
    }
    let why = match &answer.initialize {
        InitReply::Refused { status, bearer: true } => {
            auth.missing = vec![MISSING_PRM.into()];
            format!("refused without credentials ({status}), asks for a bearer token, publishes no OAuth metadata")
        }
        InitReply::Refused { status, bearer: false } => {
            format!("refused without credentials ({status}), publishes no OAuth metadata")
        }
        InitReply::Redirect { status } => format!("redirects elsewhere ({status}, not followed; a sign-in page?)"),
        InitReply::Other { status } => format!("answered {status}, not MCP"),
        InitReply::Mcp => String::new(),
    };
    keyed_or_unknown(&mut auth, why);
    auth
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote_auth::probe::{Answer, AsMetadata, ResourceMetadata};

    fn answered(initialize: InitReply, prm: Option<ResourceMetadata>, as_md: Option<AsMetadata>) -> Timed {
        Timed {
            probed_at: 7,
            observation: Observation::Answered(Answer { initialize, resource_metadata: prm, as_metadata: as_md }),
        }
    }

    fn prm(discovery: Discovery) -> ResourceMetadata {
        ResourceMetadata { discovery, authorization_server: Some("auth.example".into()), resource_matches: true }
    }

    const FULL: AsMetadata = AsMetadata {
        pkce_s256: true,
        client_id_metadata_documents: true,
        dynamic_registration: false,
        iss_parameter: true,
    };

    fn posture(a: &pb::RemoteAuth) -> pb::AuthPosture {
        pb::AuthPosture::try_from(a.posture).unwrap_or_default()
    }

    #[test]
    fn an_initialize_answered_without_credentials_is_none_even_with_a_key_configured() {
        let a = judge(Some(&answered(InitReply::Mcp, None, None)), None, true);
        assert_eq!((posture(&a), a.verified, a.probed_at), (pb::AuthPosture::None, true, 7));
    }

    #[test]
    fn complete_oauth_metadata_is_oauth() {
        let refused = InitReply::Refused { status: 401, bearer: true };
        let a = judge(Some(&answered(refused, Some(prm(Discovery::Header)), Some(FULL))), None, false);
        assert_eq!(posture(&a), pb::AuthPosture::Oauth, "{a:?}");
        assert_eq!((a.discovery.as_str(), a.pkce_s256, a.iss_parameter), ("header", true, true));
        assert!(a.missing.is_empty());
    }

    #[test]
    fn oauth_without_pkce_or_metadata_is_partial_and_says_what_is_missing() {
        let refused = InitReply::Refused { status: 401, bearer: true };
        let no_pkce = AsMetadata { pkce_s256: false, ..FULL };
        let a = judge(Some(&answered(refused.clone(), Some(prm(Discovery::WellKnown)), Some(no_pkce))), None, false);
        assert_eq!((posture(&a), a.missing.clone()), (pb::AuthPosture::OauthPartial, vec![MISSING_PKCE.to_string()]));
        let a = judge(Some(&answered(refused, Some(prm(Discovery::WellKnown)), None)), None, false);
        assert_eq!(a.missing, vec![MISSING_AS_METADATA.to_string()]);
    }

    #[test]
    fn a_refusal_without_metadata_is_a_static_key_only_when_one_is_configured() {
        let refused = InitReply::Refused { status: 401, bearer: false };
        assert_eq!(
            posture(&judge(Some(&answered(refused.clone(), None, None)), None, true)),
            pb::AuthPosture::StaticKey
        );
        assert_eq!(posture(&judge(Some(&answered(refused, None, None)), None, false)), pb::AuthPosture::Unknown);
    }

    #[test]
    fn unreachable_or_unprobed_servers_are_unknown_with_a_reason() {
        let down = Timed { probed_at: 1, observation: Observation::Unreachable { reason: "timed out".into() } };
        let a = judge(Some(&down), None, false);
        assert_eq!(
            (posture(&a), a.verified, a.reason.as_str()),
            (pb::AuthPosture::Unknown, false, "unreachable: timed out")
        );
        let a = judge(None, Some("not probed: offline"), true);
        assert_eq!((posture(&a), a.verified), (pb::AuthPosture::StaticKey, false));
        let redirect = judge(Some(&answered(InitReply::Redirect { status: 302 }, None, None)), None, false);
        assert_eq!(posture(&redirect), pb::AuthPosture::Unknown);
        assert!(redirect.reason.contains("redirect"));
    }
}
