//! A per-child agent token: asked of the daemon for one child process, revoked when it is done.

use agentkeys_core::daemon_api::{
    AgentNameRequest, AgentToken, AgentTokenRevoke, AGENT_HEADER, AGENT_TOKEN_HEADER,
};
use agentkeys_core::routes::daemon as route;

use crate::daemon_client::DaemonClient;
use crate::error::CliError;
use crate::output;

pub struct ChildToken {
    pub token: AgentToken,
}

impl ChildToken {
    /// Inside another agent's child the request itself is refused (`agent_not_permitted`).
    pub async fn issue(agent: &str) -> Result<ChildToken, CliError> {
        let token = DaemonClient::from_env()?
            .post(
                route::AGENT_TOKEN,
                &AgentNameRequest {
                    name: agent.to_string(),
                },
            )
            .await?;
        Ok(ChildToken { token })
    }

    /// A client that acts as the agent.
    pub fn client(&self) -> Result<DaemonClient, CliError> {
        Ok(DaemonClient::from_env()?
            .with_header(AGENT_HEADER, self.token.agent.clone())
            .with_header(AGENT_TOKEN_HEADER, self.token.token.clone()))
    }

    /// Best effort: a token the daemon cannot revoke dies with the daemon anyway.
    pub async fn revoke(self) {
        let req = AgentTokenRevoke {
            token: self.token.token.clone(),
        };
        let result = match DaemonClient::from_env() {
            Ok(c) => c
                .post::<_, serde_json::Value>(route::AGENT_TOKEN_REVOKE, &req)
                .await
                .map(drop),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            output::note(&format!(
                "could not revoke the child's agent token: {}",
                e.message
            ));
        }
    }
}
