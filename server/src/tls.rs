//! TLS for `xiaoan serve` (HTTPS and WSS): a browser gives the microphone only to a
//! secure page, and the staff token and residents' data must not cross the network in
//! clear.
//!
//! [`server_config`] reads the certificate and key the centre provides (PEM files) and
//! says plainly what is wrong with them. [`make_local`] makes a local certificate
//! authority and a server certificate signed by it, for a test set-up: the CA
//! certificate is installed once on each kiosk, the server certificate names the
//! server's host names and addresses.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Datelike, Duration, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

/// The local CA's certificate: install it on each kiosk.
pub const CA_CERT: &str = "ca.pem";
/// The local CA's private key: keep it on the server (it can make certificates any
/// kiosk that trusts the CA would accept).
pub const CA_KEY: &str = "ca-key.pem";
/// The server certificate (`--tls-cert`).
pub const SERVER_CERT: &str = "server.pem";
/// The server certificate's private key (`--tls-key`).
pub const SERVER_KEY: &str = "server-key.pem";
/// How long a local server certificate is valid, in days (browsers refuse longer ones
/// from public CAs; the same rule keeps a forgotten test certificate from living on).
pub const SERVER_DAYS: i64 = 397;
/// How long the local CA is valid, in years.
pub const CA_YEARS: i32 = 10;

/// What is wrong with TLS files, or with making them.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read the TLS {what} {path}: {source}")]
    Read {
        /// `certificate` or `key`.
        what: &'static str,
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The certificate file has no certificate in it.
    #[error("{path} holds no PEM certificate (a block starting \"-----BEGIN CERTIFICATE-----\"): pass the certificate with --tls-cert and its key with --tls-key")]
    NoCertificate {
        /// The file.
        path: String,
    },
    /// The key file has no private key in it.
    #[error("{path} holds no PEM private key (a block starting \"-----BEGIN PRIVATE KEY-----\", \"-----BEGIN EC PRIVATE KEY-----\" or \"-----BEGIN RSA PRIVATE KEY-----\"): pass the key with --tls-key")]
    NoKey {
        /// The file.
        path: String,
    },
    /// A PEM file is damaged.
    #[error("{path} is not a valid PEM file: {reason}")]
    BadPem {
        /// The file.
        path: String,
        /// What the parser said.
        reason: String,
    },
    /// The certificate and key were read but cannot be used together.
    #[error("the TLS certificate {cert} and key {key} cannot be used: {reason}")]
    Rejected {
        /// The certificate file.
        cert: String,
        /// The key file.
        key: String,
        /// Why (e.g. the key does not belong to the certificate).
        reason: String,
    },
    /// A host name for a local certificate is not a DNS name or IP address.
    #[error("\"{0}\" is not a host name or IP address")]
    BadHost(String),
    /// Making a local certificate failed.
    #[error("cannot make the local certificate: {0}")]
    Make(String),
    /// An existing CA in the output folder does not match its key.
    #[error("{cert} was not made with {key}: move both away to make a new CA")]
    CaMismatch {
        /// The CA certificate.
        cert: String,
        /// The CA key.
        key: String,
    },
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

type Result<T> = std::result::Result<T, TlsError>;

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.display().to_string(),
        source,
    })
}

/// The certificates in a PEM file (the server's first, then any intermediates).
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem = read(path, "certificate")?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| TlsError::BadPem {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.display().to_string(),
        });
    }
    Ok(certs)
}

/// The private key in a PEM file (PKCS#8, SEC1 or PKCS#1).
pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    let pem = read(path, "key")?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoKey {
            path: path.display().to_string(),
        },
        e => TlsError::BadPem {
            path: path.display().to_string(),
            reason: e.to_string(),
        },
    })
}

/// The TLS configuration of the server from a certificate (chain) file and its key: TLS
/// 1.2 and 1.3, HTTP/1.1. Fails with a clear error for a missing or unreadable file, a
/// file with no certificate or key in it, or a key that does not belong to the
/// certificate.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>> {
    let certs = read_certs(cert)?;
    let key_der = read_key(key)?;
    let rejected = |reason: String| TlsError::Rejected {
        cert: cert.display().to_string(),
        key: key.display().to_string(),
        reason,
    };
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| rejected(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => {
                rejected("the key does not belong to the certificate".into())
            }
            e => rejected(e.to_string()),
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The cryptography under TLS: ring, named explicitly rather than left to whichever
/// backend the dependency graph happens to switch on. rustls 0.23.48 deprecates ring's
/// provider because it has no post-quantum key exchange; the classical X25519 and P-256
/// exchanges it offers are what browsers fall back to, and ring builds here with the C
/// compiler the set-up already has (aws-lc-rs would add a long native build).
#[allow(deprecated)]
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// What [`make_local`] wrote.
#[derive(Debug, Clone)]
pub struct LocalCerts {
    /// The CA certificate to install on kiosks.
    pub ca_cert: PathBuf,
    /// The CA's key (stays on the server).
    pub ca_key: PathBuf,
    /// The server certificate (`--tls-cert`).
    pub cert: PathBuf,
    /// The server key (`--tls-key`).
    pub key: PathBuf,
    /// True when an existing CA in the folder was used (kiosks that trust it need
    /// nothing new).
    pub reused_ca: bool,
    /// The names and addresses the server certificate is valid for.
    pub hosts: Vec<String>,
    /// SHA-256 of the CA certificate (DER), to compare on a kiosk.
    pub ca_sha256: String,
}

/// The host names a local certificate names by default: `localhost`, the loopback
/// addresses and this machine's host name.
pub fn default_hosts() -> Vec<String> {
    let mut hosts = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    if let Ok(h) = std::fs::read_to_string("/etc/hostname") {
        let h = h.trim().to_string();
        if valid_host(&h) && !hosts.contains(&h) {
            hosts.push(h);
        }
    }
    hosts
}

fn make_err(e: rcgen::Error) -> TlsError {
    TlsError::Make(e.to_string())
}

/// The CA's parameters; its name carries a fingerprint of its key, so the same key gives
/// the same name (an existing CA can sign new server certificates) and two centres' CAs
/// are told apart on a kiosk.
fn ca_params(key: &KeyPair) -> Result<CertificateParams> {
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(make_err)?;
    let fp = hex::encode(&Sha256::digest(key.der_bytes())[..4]);
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name
        .push(DnType::CommonName, format!("Xiao'an local CA {fp}"));
    p.distinguished_name
        .push(DnType::OrganizationName, "Xiao'an test set-up");
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let today = Utc::now().date_naive();
    p.not_before = rcgen::date_time_ymd(today.year(), today.month() as u8, today.day() as u8);
    p.not_after = rcgen::date_time_ymd(
        today.year() + CA_YEARS,
        today.month() as u8,
        today.day().min(28) as u8,
    );
    Ok(p)
}

/// Write `text` to `path` atomically with `mode`.
fn write_file(path: &Path, text: &str, mode: u32) -> Result<()> {
    let err = |source| TlsError::Write {
        path: path.display().to_string(),
        source,
    };
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(e)
    })
}

/// A DNS name or an IP address.
fn valid_host(h: &str) -> bool {
    h.parse::<std::net::IpAddr>().is_ok()
        || (!h.is_empty()
            && h.len() <= 253
            && h.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            }))
}

/// Make a local CA (or use the one already in `out`) and a server certificate signed by
/// it for [`default_hosts`] and `extra_hosts` (host names and IP addresses the kiosks
/// use). Writes [`CA_CERT`], [`CA_KEY`] (0600), [`SERVER_CERT`] and [`SERVER_KEY`] (0600)
/// into `out`.
pub fn make_local(out: &Path, extra_hosts: &[String]) -> Result<LocalCerts> {
    let mut hosts = default_hosts();
    for h in extra_hosts {
        let h = h.trim().to_string();
        if !valid_host(&h) {
            return Err(TlsError::BadHost(h));
        }
        if !hosts.contains(&h) {
            hosts.push(h);
        }
    }
    std::fs::create_dir_all(out).map_err(|source| TlsError::Write {
        path: out.display().to_string(),
        source,
    })?;
    let ca_cert_path = out.join(CA_CERT);
    let ca_key_path = out.join(CA_KEY);
    let reused_ca = ca_cert_path.is_file() && ca_key_path.is_file();
    let (ca_key, ca_pem) = if reused_ca {
        let key_pem = String::from_utf8_lossy(&read(&ca_key_path, "key")?).into_owned();
        let key = KeyPair::from_pem(&key_pem).map_err(|e| TlsError::BadPem {
            path: ca_key_path.display().to_string(),
            reason: e.to_string(),
        })?;
        let certs = read_certs(&ca_cert_path)?;
        // the CA certificate must carry this key and the name made from it
        let params = ca_params(&key)?;
        let cn = params
            .distinguished_name
            .get(&DnType::CommonName)
            .map(|v| match v {
                rcgen::DnValue::Utf8String(s) => s.clone(),
                other => format!("{other:?}"),
            })
            .unwrap_or_default();
        let der: &[u8] = certs[0].as_ref();
        let contains = |needle: &[u8]| der.windows(needle.len()).any(|w| w == needle);
        if !contains(key.der_bytes()) || !contains(cn.as_bytes()) {
            return Err(TlsError::CaMismatch {
                cert: ca_cert_path.display().to_string(),
                key: ca_key_path.display().to_string(),
            });
        }
        let pem = String::from_utf8_lossy(&read(&ca_cert_path, "certificate")?).into_owned();
        (key, pem)
    } else {
        let key = KeyPair::generate().map_err(make_err)?;
        let cert = ca_params(&key)?.self_signed(&key).map_err(make_err)?;
        write_file(&ca_key_path, &key.serialize_pem(), 0o600)?;
        write_file(&ca_cert_path, &cert.pem(), 0o644)?;
        (key, cert.pem())
    };
    let ca_der =
        CertificateDer::from_pem_slice(ca_pem.as_bytes()).map_err(|e| TlsError::BadPem {
            path: ca_cert_path.display().to_string(),
            reason: e.to_string(),
        })?;
    let issuer = Issuer::new(ca_params(&ca_key)?, ca_key);

    let key = KeyPair::generate().map_err(make_err)?;
    let mut params = CertificateParams::new(hosts.clone()).map_err(make_err)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(
        DnType::CommonName,
        hosts.first().cloned().unwrap_or_default(),
    );
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let start = Utc::now() - Duration::days(1);
    let end = start + Duration::days(SERVER_DAYS);
    params.not_before = rcgen::date_time_ymd(start.year(), start.month() as u8, start.day() as u8);
    params.not_after = rcgen::date_time_ymd(end.year(), end.month() as u8, end.day() as u8);
    let cert = params.signed_by(&key, &issuer).map_err(make_err)?;
    let cert_path = out.join(SERVER_CERT);
    let key_path = out.join(SERVER_KEY);
    write_file(&key_path, &key.serialize_pem(), 0o600)?;
    write_file(&cert_path, &cert.pem(), 0o644)?;
    Ok(LocalCerts {
        ca_cert: ca_cert_path,
        ca_key: ca_key_path,
        cert: cert_path,
        key: key_path,
        reused_ca,
        hosts,
        ca_sha256: hex::encode(Sha256::digest(ca_der.as_ref())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_certificate_and_key_files_get_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let made = make_local(dir.path(), &["localhost".into()]).unwrap();
        assert!(server_config(&made.cert, &made.key).is_ok());

        let missing = dir.path().join("nope.pem");
        let e = server_config(&missing, &made.key).unwrap_err().to_string();
        assert!(
            e.contains("cannot read the TLS certificate") && e.contains("nope.pem"),
            "{e}"
        );

        // certificate and key swapped
        let e = server_config(&made.key, &made.cert)
            .unwrap_err()
            .to_string();
        assert!(e.contains("holds no PEM certificate"), "{e}");
        let e = server_config(&made.cert, &made.cert)
            .unwrap_err()
            .to_string();
        assert!(e.contains("holds no PEM private key"), "{e}");

        // a key of another certificate
        let other = tempfile::tempdir().unwrap();
        let o = make_local(other.path(), &["localhost".into()]).unwrap();
        let e = server_config(&made.cert, &o.key).unwrap_err().to_string();
        assert!(
            e.contains("the key does not belong to the certificate"),
            "{e}"
        );

        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "-----BEGIN CERTIFICATE-----\n%%%%\n").unwrap();
        assert!(server_config(&junk, &made.key).is_err());
    }

    #[test]
    fn keys_are_owner_only_and_a_second_run_keeps_the_ca() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let first = make_local(dir.path(), &["localhost".into()]).unwrap();
        assert!(!first.reused_ca);
        for p in [&first.key, &first.ca_key] {
            let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", p.display());
        }
        let ca = std::fs::read(&first.ca_cert).unwrap();
        let second = make_local(dir.path(), &["192.168.1.20".into()]).unwrap();
        assert!(second.reused_ca);
        assert!(second.hosts.contains(&"localhost".to_string()));
        assert!(second.hosts.contains(&"192.168.1.20".to_string()));
        assert_eq!(std::fs::read(&second.ca_cert).unwrap(), ca);
        assert_eq!(first.ca_sha256, second.ca_sha256);
        assert!(matches!(
            make_local(dir.path(), &["bad host".into()]),
            Err(TlsError::BadHost(_))
        ));
    }

    /// A client that trusts only `ca` (PEM file), asking for `name`.
    async fn https_get(
        addr: std::net::SocketAddr,
        ca: &Path,
        name: &str,
        path: &str,
    ) -> std::result::Result<String, String> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut roots = rustls::RootCertStore::empty();
        for c in read_certs(ca).unwrap() {
            roots.add(c).unwrap();
        }
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let server_name = rustls::pki_types::ServerName::try_from(name.to_string()).unwrap();
        let mut tls = connector
            .connect(server_name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        tls.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        let _ = tls.read_to_end(&mut out).await;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    #[test]
    fn https_on_loopback_with_the_local_ca_and_only_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let made = make_local(&dir.path().join("tls"), &[]).unwrap();
        let config = server_config(&made.cert, &made.key).unwrap();
        let store = xiaoan_records::Store::open(&dir.path().join("records.db")).unwrap();
        let app = crate::router(store, "hV3k9Qz1Lr8Xw2Pn5Tb7Yc0Md4Fg6Js+".into());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = l.local_addr().unwrap();
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let server = tokio::spawn(crate::serve_listener_tls(
                l,
                app,
                Some(config),
                std::time::Duration::from_secs(10),
                async {
                    let _ = stopped.await;
                },
            ));

            for name in ["localhost", "127.0.0.1"] {
                let r = https_get(addr, &made.ca_cert, name, "/api/health")
                    .await
                    .unwrap();
                assert!(r.starts_with("HTTP/1.1 200"), "{name}: {r}");
                assert!(r.contains("schema"), "{r}");
                // the staff token is still needed over TLS
                let r = https_get(addr, &made.ca_cert, name, "/api/alerts")
                    .await
                    .unwrap();
                assert!(r.starts_with("HTTP/1.1 401"), "{r}");
            }
            // a name the certificate does not carry
            let e = https_get(addr, &made.ca_cert, "kiosk.example", "/api/health")
                .await
                .unwrap_err();
            assert!(
                e.contains("not valid for name") || e.contains("NotValidForName"),
                "{e}"
            );
            // a client that trusts another CA
            let other = tempfile::tempdir().unwrap();
            let o = make_local(other.path(), &["localhost".into()]).unwrap();
            let e = https_get(addr, &o.ca_cert, "localhost", "/api/health")
                .await
                .unwrap_err();
            assert!(e.to_lowercase().contains("unknown"), "{e}");
            // plain HTTP to the TLS port gets no answer
            {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
                tcp.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
                    .await
                    .unwrap();
                let mut out = Vec::new();
                let _ = tcp.read_to_end(&mut out).await;
                assert!(!String::from_utf8_lossy(&out).contains("200 OK"));
            }
            let _ = stop.send(());
            server.await.unwrap().unwrap();
        });
    }

    #[test]
    fn plain_http_on_a_network_address_is_refused_before_listening() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let listen = crate::Listen {
            addr: "0.0.0.0:0".parse().unwrap(),
            tls: None,
            insecure_bind: false,
        };
        let e = rt
            .block_on(crate::serve_app(listen, axum::Router::new()))
            .unwrap_err();
        assert!(matches!(e, crate::Error::ExposedBind { .. }), "{e}");
        assert!(e.to_string().contains("--tls-cert"), "{e}");
    }
}
