//! A plain HTTP/1.1 listener for the service (hyper's server half, the hyper the SDK
//! already builds): the local stack serves `METAFLOW_SERVICE_URL` with it in-process,
//! and tests run real Metaflow against it.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use bytes::Bytes;
use dropflow_metadata_service::{MetadataService, MetadataStore, Request};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::respond::respond;

/// The largest request body accepted (API Gateway's own limit is 10 MB, Lambda's 6 MB).
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Serves `service` on `listener` until `shutdown` completes.
pub async fn serve<S: MetadataStore + 'static>(
    listener: TcpListener,
    service: Arc<MetadataService<S>>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            () = &mut shutdown => return Ok(()),
        };
        let service = service.clone();
        tokio::spawn(async move {
            let answer = service_fn(move |request: hyper::Request<Incoming>| {
                let service = service.clone();
                async move { Ok::<_, Infallible>(answer(&service, request).await) }
            });
            if let Err(error) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), answer)
                .await
            {
                tracing::debug!("connection ended: {error}");
            }
        });
    }
}

async fn answer<S: MetadataStore>(
    service: &MetadataService<S>,
    request: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let version = service.version();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(_) => {
            return hyper::Response::builder()
                .status(413)
                .header("Content-Type", "application/json")
                .header(dropflow_metadata_service::VERSION_HEADER, version)
                .body(Full::new(Bytes::from_static(
                    br#"{"error": "too_large", "message": "the request body is larger than 8 MiB"}"#,
                )))
                .unwrap_or_default();
        }
    };
    let request = Request {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts
            .headers
            .iter()
            .filter_map(|(n, v)| Some((n.to_string(), v.to_str().ok()?.to_string())))
            .collect(),
        body,
    };
    let response = respond(service, &request, "-").await;
    let mut builder = hyper::Response::builder().status(response.status);
    for (name, value) in response.headers(version) {
        builder = builder.header(name, value);
    }
    builder
        .body(Full::new(Bytes::from(response.body)))
        .unwrap_or_default()
}

/// The service on its own thread and runtime, for hosts that are not async (the local
/// stack's supervisor, tests). Stops when dropped.
#[derive(Debug)]
pub struct LocalServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl LocalServer {
    /// Binds `addr` (port 0 picks a free port) and serves `service` there.
    pub fn start<S: MetadataStore + 'static>(
        addr: impl ToSocketAddrs,
        service: MetadataService<S>,
    ) -> io::Result<Self> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("dropflow-metadata")
            .enable_all()
            .build()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("dropflow-metadata-listener".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = TcpListener::from_std(listener)?;
                    serve(listener, Arc::new(service), async {
                        let _ = stopped.await;
                    })
                    .await
                })
            })?;
        Ok(Self {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`: what `METAFLOW_SERVICE_URL` should be.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
