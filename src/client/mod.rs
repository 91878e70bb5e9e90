//! The CLI's way to a running daemon: finds its API through the address file the daemon
//! writes in the state folder, and calls it with the configured token. When no daemon answers
//! the CLI works on the files directly instead.

use std::time::Duration;

use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::Url;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::queries::PutAnswer;
use crate::api::views::{QueryView, StatusReport};
use crate::api::ADDRESS_FILE;
use crate::config::Config;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The daemon answered with an error.
    #[error("{message}")]
    Api {
        status: u16,
        code: String,
        message: String,
        column: Option<usize>,
    },
    #[error("cannot talk to the daemon at {url}: {source}")]
    Http { url: String, source: reqwest::Error },
}

/// A connection to the running daemon's API.
pub struct DaemonClient {
    base: Url,
    token: Option<String>,
    http: Client,
}

impl DaemonClient {
    /// The running daemon's API, if a daemon runs on this configuration and answers.
    pub fn find(config: &Config) -> Option<DaemonClient> {
        if !config.api.enabled {
            return None;
        }
        let address = std::fs::read_to_string(config.state_dir.join(ADDRESS_FILE)).ok()?;
        let base = Url::parse(&format!("http://{}/", address.trim())).ok()?;
        let http = Client::builder()
            .connect_timeout(Duration::from_secs(2))
            // A backfill over a large index can take a while.
            .timeout(Duration::from_secs(600))
            .build()
            .ok()?;
        let client = DaemonClient {
            base,
            token: config.api.token.clone(),
            http,
        };
        let health = client
            .http
            .get(client.url(&["healthz"]))
            .timeout(Duration::from_secs(2))
            .send()
            .ok()?;
        health.status().is_success().then_some(client)
    }

    /// The API's base address.
    pub fn base(&self) -> &Url {
        &self.base
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    fn send<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, ClientError> {
        let response = self.authorized(request)?;
        let url = response.url().to_string();
        response
            .json()
            .map_err(|source| ClientError::Http { url, source })
    }

    fn authorized(&self, request: RequestBuilder) -> Result<Response, ClientError> {
        let request = match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = request.send().map_err(|source| ClientError::Http {
            url: self.base.to_string(),
            source,
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().unwrap_or_default();
        let error = &body["error"];
        Err(ClientError::Api {
            status,
            code: error["code"].as_str().unwrap_or("unknown").to_string(),
            message: error["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("the daemon answered HTTP {status}")),
            column: error["column"].as_u64().map(|c| c as usize),
        })
    }

    /// `GET /queries`: the saved queries the daemon runs, invalid ones marked.
    pub fn queries(&self) -> Result<Vec<QueryView>, ClientError> {
        self.send(self.http.get(self.url(&["queries"])))
    }

    /// `PUT /queries/{name}`.
    pub fn put_query(
        &self,
        name: &str,
        text: &str,
        webhooks: Option<&[String]>,
        backfill: bool,
        dry_run: bool,
    ) -> Result<PutAnswer, ClientError> {
        #[derive(Serialize)]
        struct Body<'a> {
            query: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            webhooks: Option<&'a [String]>,
        }
        let mut url = self.url(&["queries", name]);
        url.query_pairs_mut()
            .append_pair("backfill", if backfill { "true" } else { "false" })
            .append_pair("dry_run", if dry_run { "true" } else { "false" });
        self.send(self.http.put(url).json(&Body {
            query: text,
            webhooks,
        }))
    }

    /// `DELETE /queries/{name}`.
    pub fn delete_query(&self, name: &str) -> Result<(), ClientError> {
        self.authorized(self.http.delete(self.url(&["queries", name])))
            .map(|_| ())
    }

    /// `GET /status`.
    pub fn status(&self) -> Result<StatusReport, ClientError> {
        self.send(self.http.get(self.url(&["status"])))
    }
}
