//! A lean HTTP/1.1 client over one kept-alive connection: the load generator uses one per
//! task (so it spends as little of the shared CPU as it can), `serve --demo` one to set
//! up the demo through the admin API.

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    authority: String,
}

impl Connection {
    pub async fn open(authority: &str) -> anyhow::Result<Connection> {
        let stream = tokio::net::TcpStream::connect(authority)
            .await
            .with_context(|| format!("cannot connect to {authority}"))?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Connection {
            sender,
            authority: authority.to_owned(),
        })
    }

    /// POSTs a JSON body; returns the status and the response body.
    pub async fn post_json(&mut self, path: &str, body: String) -> anyhow::Result<(u16, Bytes)> {
        self.post_json_as(path, body, None).await
    }

    /// POSTs a JSON body, with `Authorization: Bearer` when a key is given.
    pub async fn post_json_as(
        &mut self,
        path: &str,
        body: String,
        api_key: Option<&str>,
    ) -> anyhow::Result<(u16, Bytes)> {
        let mut request = hyper::Request::post(path)
            .header(hyper::header::HOST, &self.authority)
            .header(hyper::header::CONTENT_TYPE, "application/json");
        if let Some(key) = api_key {
            request = request.header(hyper::header::AUTHORIZATION, format!("Bearer {key}"));
        }
        let request = request.body(Full::new(Bytes::from(body)))?;
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    /// A GET's status and body.
    pub async fn get_body(&mut self, path: &str) -> anyhow::Result<(u16, Bytes)> {
        let request = hyper::Request::get(path)
            .header(hyper::header::HOST, &self.authority)
            .body(Full::new(Bytes::new()))?;
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    pub async fn get(&mut self, path: &str) -> anyhow::Result<u16> {
        let request = hyper::Request::get(path)
            .header(hyper::header::HOST, &self.authority)
            .body(Full::new(Bytes::new()))?;
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status().as_u16();
        response.into_body().collect().await?;
        Ok(status)
    }
}

/// `host:port` of an `http://` URL.
pub fn authority(url: &str) -> anyhow::Result<String> {
    let rest = url
        .strip_prefix("http://")
        .context("only http:// URLs can be benchmarked (loopback HTTP)")?;
    Ok(rest.trim_end_matches('/').to_owned())
}
