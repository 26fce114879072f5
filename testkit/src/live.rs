//! Reading `GET /events` (server-sent events) in a test.

use std::time::Duration;

use reqwest::StatusCode;

/// A server-sent event stream being read.
pub struct Stream {
    res: reqwest::Response,
    buffered: String,
}

/// One frame: its `event:` name (or "comment") and its data (or comment text).
pub type Frame = (String, String);

impl Stream {
    pub async fn open(client: &reqwest::Client, url: String) -> Self {
        let res = client.get(url).send().await.expect("open the stream");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        Self {
            res,
            buffered: String::new(),
        }
    }

    /// The next frame, comments included; `None` when the stream ended.
    pub async fn next_frame(&mut self) -> Option<Frame> {
        loop {
            if let Some(end) = self.buffered.find("\n\n") {
                let frame: String = self.buffered.drain(..end + 2).collect();
                let mut event = String::new();
                let mut data = String::new();
                for line in frame.lines() {
                    if let Some(text) = line.strip_prefix(':') {
                        return Some(("comment".into(), text.trim().into()));
                    }
                    if let Some(name) = line.strip_prefix("event:") {
                        event = name.trim().into();
                    } else if let Some(text) = line.strip_prefix("data:") {
                        data.push_str(text.trim_start());
                    }
                }
                return Some((event, data));
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.res.chunk())
                .await
                .expect("a frame within 10 s")
                .expect("read")?;
            self.buffered
                .push_str(std::str::from_utf8(&chunk).expect("utf-8"));
        }
    }

    /// The next event that is not a comment.
    pub async fn next_event(&mut self) -> Frame {
        loop {
            match self.next_frame().await.expect("the stream is open") {
                (kind, _) if kind == "comment" => continue,
                frame => return frame,
            }
        }
    }

    /// The next `integration` event's view.
    pub async fn next_view(&mut self) -> serde_json::Value {
        let (event, data) = self.next_event().await;
        assert_eq!(event, "integration", "{data}");
        serde_json::from_str(&data).expect("json")
    }
}
