//! A real SMTP server inside the test process (mailin-embedded on port 0): it keeps every
//! message it accepts, and can be told to refuse the next few with a temporary failure.

use std::{
    io,
    net::TcpListener,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use mailin_embedded::{Handler, Response, Server, response};

#[derive(Default)]
struct Mailbox {
    received: Vec<Received>,
    refuse: usize,
}

/// A message as the server received it.
#[derive(Clone)]
pub struct Received {
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

impl Received {
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.data)
            .expect("a parsable message")
    }
}

#[derive(Clone)]
struct Session {
    mailbox: Arc<Mutex<Mailbox>>,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Session {
    // Refusals happen at MAIL FROM: mailin keeps a session refused at the end of DATA in DATA
    // mode, so the client's next command would be swallowed as message text.
    fn mail(&mut self, _ip: std::net::IpAddr, _domain: &str, _from: &str) -> Response {
        let mut mailbox = self.mailbox.lock().unwrap();
        if mailbox.refuse > 0 {
            mailbox.refuse -= 1;
            return Response::custom(451, "4.3.0 Mailbox busy, try again later".into());
        }
        response::OK
    }

    /// A mailbox at `bounce.invalid` does not exist: refused for good, as a real server would.
    fn rcpt(&mut self, to: &str) -> Response {
        if to.trim_end_matches('>').ends_with("@bounce.invalid") {
            return Response::custom(550, "5.1.1 No such mailbox".into());
        }
        response::OK
    }

    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let mut mailbox = self.mailbox.lock().unwrap();
        mailbox.received.push(Received {
            to: std::mem::take(&mut self.to),
            data: std::mem::take(&mut self.data),
        });
        response::OK
    }
}

pub struct SmtpSink {
    pub port: u16,
    mailbox: Arc<Mutex<Mailbox>>,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        // TCP_NODELAY on the listening socket is inherited by the connections it accepts (on
        // Linux): without it, small SMTP replies wait for delayed ACKs, ~40 ms each, and the
        // test server rather than the mailer would set the pace.
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("a socket");
        socket.set_tcp_nodelay(true).expect("TCP_NODELAY");
        socket
            .bind(
                &"127.0.0.1:0"
                    .parse::<std::net::SocketAddr>()
                    .unwrap()
                    .into(),
            )
            .expect("a free port");
        socket.listen(128).expect("listening");
        let listener: TcpListener = socket.into();
        let port = listener.local_addr().unwrap().port();
        let mailbox = Arc::new(Mutex::new(Mailbox::default()));
        let session = Session {
            mailbox: mailbox.clone(),
            to: Vec::new(),
            data: Vec::new(),
        };
        let mut server = Server::new(session);
        server
            .with_name("smtp.test")
            // A thread per open connection: room for several workers' connection pools.
            .with_num_threads(64)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        SmtpSink { port, mailbox }
    }

    /// Answers the next `count` messages with 451 (try again later).
    pub fn refuse_next(&self, count: usize) {
        self.mailbox.lock().unwrap().refuse = count;
    }

    pub fn received(&self) -> Vec<Received> {
        self.mailbox.lock().unwrap().received.clone()
    }

    /// The link containing `part` in the newest message to `recipient` that has one, as the
    /// recipient would click it.
    pub fn link_to(&self, recipient: &str, part: &str) -> String {
        self.received()
            .iter()
            .rev()
            .filter(|message| message.to.iter().any(|to| to.contains(recipient)))
            .find_map(|message| {
                let text = message.parsed().body_text(0)?.into_owned();
                text.split_whitespace()
                    .find(|word| word.contains(part))
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| panic!("a mail to {recipient} with a link to {part}"))
    }

    /// Waits up to `within` for at least `count` messages.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let received = self.received();
            if received.len() >= count || Instant::now() > deadline {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
