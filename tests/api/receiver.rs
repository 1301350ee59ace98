//! A real HTTP server that receives webhooks, as the case system would: it records every post
//! with its Standard Webhooks headers, and answers 503 while it is "down".

use std::{
    net::TcpListener,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, dev::ServerHandle, web};
use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// One post as it arrived.
#[derive(Debug, Clone)]
pub struct Post {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: Vec<u8>,
    /// Answered 2xx (the receiver was up).
    pub accepted: bool,
}

impl Post {
    /// Whether the signature is the one `secret` gives, as the specification verifies it.
    pub fn signed_with(&self, secret: &str) -> bool {
        let key = STANDARD
            .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
            .expect("base64 key");
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        mac.update(format!("{}.{}.", self.id, self.timestamp).as_bytes());
        mac.update(&self.body);
        let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
        self.signature.split(' ').any(|s| s == expected)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
struct Inbox {
    posts: Mutex<Vec<Post>>,
    down: AtomicBool,
    /// Takes the post and never answers (until the sender gives up).
    hanging: AtomicBool,
}

pub struct Receiver {
    pub url: String,
    inbox: Arc<Inbox>,
    server: ServerHandle,
}

impl Receiver {
    pub fn start() -> Receiver {
        let inbox = Arc::new(Inbox::default());
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
        let port = listener.local_addr().unwrap().port();
        let shared = web::Data::from(inbox.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .route("/hooks", web::post().to(receive))
        })
        .workers(1)
        .listen(listener)
        .expect("listening")
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Receiver {
            url: format!("http://127.0.0.1:{port}/hooks"),
            inbox,
            server: handle,
        }
    }

    pub fn set_down(&self, down: bool) {
        self.inbox.down.store(down, Ordering::SeqCst);
    }

    /// From now on, takes posts in and never answers them.
    pub fn hang(&self) {
        self.inbox.hanging.store(true, Ordering::SeqCst);
    }

    pub fn posts(&self) -> Vec<Post> {
        self.inbox.posts.lock().unwrap().clone()
    }

    pub fn accepted(&self) -> Vec<Post> {
        self.posts().into_iter().filter(|p| p.accepted).collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let server = self.server.clone();
        tokio::spawn(async move { server.stop(false).await });
    }
}

async fn receive(inbox: web::Data<Inbox>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    if inbox.hanging.load(Ordering::SeqCst) {
        inbox.posts.lock().unwrap().push(Post {
            id: header("webhook-id"),
            timestamp: header("webhook-timestamp"),
            signature: header("webhook-signature"),
            body: body.to_vec(),
            accepted: false,
        });
        std::future::pending::<()>().await;
    }
    let accepted = !inbox.down.load(Ordering::SeqCst);
    inbox.posts.lock().unwrap().push(Post {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body: body.to_vec(),
        accepted,
    });
    match accepted {
        true => HttpResponse::NoContent().finish(),
        false => HttpResponse::ServiceUnavailable().finish(),
    }
}
