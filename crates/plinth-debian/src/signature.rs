//! OpenPGP signatures of Debian archive indexes: `InRelease` (a cleartext-signed `Release`)
//! and `Release` + `Release.gpg` (a detached signature), checked against a keyring of trusted
//! archive keys, the way apt (through gpgv) accepts them.
//!
//! What a signature must satisfy to count (at least one signature of the file must):
//!
//! - its issuer (issuer fingerprint or key id subpacket) is the primary key or a subkey of a
//!   key in the keyring; signatures by other keys are ignored (they are named in the error
//!   when nothing verifies);
//! - it is a binary or text document signature, with a creation time, over a hash other than
//!   MD5 or SHA-1, and it verifies cryptographically over the signed text;
//! - it was not made more than one day after `now_unix` (clock skew allowance) and, when it
//!   carries a signature expiration time, it has not expired at `now_unix`;
//! - the key that made it was valid *when the signature was made*: created before it, with a
//!   self-signature (for a subkey: a binding signature with the signing flag and a valid
//!   embedded back-signature), not expired at that time according to the self-signature in
//!   force then (the newest one made before the signature; when all are newer — keyrings
//!   often keep only the latest — the oldest one), and not revoked. A revocation stating that the key was superseded or
//!   retired takes effect from its own creation time; any other revocation (compromise, no
//!   reason) invalidates every signature of the key. A subkey is only as valid as its primary
//!   key. When the newest self-signature carries key flags, the primary key must be flagged for
//!   signing to sign directly.
//!
//! The cleartext file must start with the `-----BEGIN PGP SIGNED MESSAGE-----` line and end
//! with the `-----END PGP SIGNATURE-----` line (line breaks only after it): apt refuses data
//! outside the signed part too, since a parser reading it could be fooled into using unsigned
//! text.

use std::fmt;

use pgp::composed::{Deserializable, SignedPublicKey, SignedPublicSubKey};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{
    Packet, PacketParser, PacketTrait, RevocationCode, Signature, SignatureType, SubpacketData,
};
use pgp::types::{KeyDetails, Tag};

/// Allowance for a signer's clock running ahead of ours.
const CLOCK_SKEW: i64 = 24 * 60 * 60;

const CLEARTEXT_HEADER: &str = "-----BEGIN PGP SIGNED MESSAGE-----";
const SIGNATURE_FOOTER: &str = "-----END PGP SIGNATURE-----";
const PUBLIC_KEY_HEADER: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
const PUBLIC_KEY_FOOTER: &str = "-----END PGP PUBLIC KEY BLOCK-----";
const SIGNATURE_HEADER: &str = "-----BEGIN PGP SIGNATURE-----";

/// A set of trusted OpenPGP public keys (transferable public keys with their subkeys).
#[derive(Debug, Clone)]
pub struct Keyring {
    keys: Vec<SignedPublicKey>,
}

/// A successfully verified signed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The signed text: for `InRelease` dash-unescaped, with trailing blanks of lines removed
    /// (they are not covered by a cleartext signature) and the line endings of the file, the
    /// last line ended too (as `gpgv --output` writes it, i.e. the `Release` file); for a
    /// detached signature the data itself.
    pub text: String,
    /// Fingerprint (upper-case hex) of the primary key whose key or subkey made the first
    /// signature that verified.
    pub signer: String,
    /// Creation time of that signature (Unix seconds).
    pub signed_at: Option<i64>,
}

/// Which signed document a [`SignatureError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    /// A cleartext-signed `InRelease`.
    InRelease,
    /// A detached signature such as `Release.gpg`.
    DetachedSignature,
}

impl fmt::Display for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Document::InRelease => "InRelease",
            Document::DetachedSignature => "Release.gpg",
        })
    }
}

/// Why one signature of a file did not count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureProblem {
    /// Made by a key (or subkey) that is not in the keyring.
    UnknownKey { key: String },
    /// Made by a key of the keyring, but it does not match the text: the text (or the
    /// signature) was modified.
    Bad { key: String },
    /// Made by a key of the keyring that could not vouch for it at the time it was made
    /// (expired, revoked, not a signing key, ...).
    KeyNotValid { key: String, why: String },
    /// Made (by its own account) after `now_unix` plus a day.
    FromTheFuture { key: String, created: i64 },
    /// The signature's own expiration time has passed.
    Expired { key: String, expired: i64 },
    /// Not a signature that can be accepted (type, hash algorithm, missing creation time).
    Unusable { key: String, why: String },
}

impl fmt::Display for SignatureProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureProblem::UnknownKey { key } => {
                write!(f, "it is signed by key {key}, which is not in the keyring")
            }
            SignatureProblem::Bad { key } => write!(
                f,
                "the signature by key {key} is BAD: the signed text or the signature was modified"
            ),
            SignatureProblem::KeyNotValid { key, why } => {
                write!(f, "the signature by key {key} does not count: {why}")
            }
            SignatureProblem::FromTheFuture { key, created } => write!(
                f,
                "the signature by key {key} claims to be made at {}, in the future (check the clock)",
                utc(*created)
            ),
            SignatureProblem::Expired { key, expired } => {
                write!(f, "the signature by key {key} expired at {}", utc(*expired))
            }
            SignatureProblem::Unusable { key, why } => {
                write!(f, "the signature by key {key} is not acceptable: {why}")
            }
        }
    }
}

/// Errors of keyring loading and signature verification.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    /// The keyring could not be read.
    #[error("cannot read the OpenPGP keyring: {0}")]
    Keyring(String),
    /// The signed file is not a well-formed signed file.
    #[error("{document} is not a well-formed OpenPGP signed file: {why}")]
    Malformed { document: Document, why: String },
    /// No signature of the file counts.
    #[error("{document} signature does not verify: {}", describe_problems(.problems))]
    NotVerified {
        document: Document,
        problems: Vec<SignatureProblem>,
    },
}

fn describe_problems(problems: &[SignatureProblem]) -> String {
    if problems.is_empty() {
        return "it carries no signature".to_string();
    }
    let unknown: Vec<&str> = problems
        .iter()
        .filter_map(|p| match p {
            SignatureProblem::UnknownKey { key } => Some(key.as_str()),
            _ => None,
        })
        .collect();
    if unknown.len() == problems.len() {
        let (noun, tail) = if unknown.len() == 1 {
            ("key", "which is not in the keyring")
        } else {
            ("keys", "none of which is in the keyring")
        };
        return format!(
            "it is signed by {noun} {}, {tail} (is the archive key missing from the keyring?)",
            unknown.join(", ")
        );
    }
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Keyring {
    /// Reads a keyring: a binary keyring (concatenated transferable public keys, as
    /// `/usr/share/keyrings/*.gpg`) or ASCII-armored public key blocks (`.asc`, several blocks
    /// allowed; text outside the blocks is ignored).
    pub fn from_bytes(data: &[u8]) -> Result<Keyring, SignatureError> {
        let start = data.iter().position(|b| !b.is_ascii_whitespace());
        let Some(start) = start else {
            return Err(SignatureError::Keyring("the keyring is empty".to_string()));
        };
        let keys = if data[start] & 0x80 != 0 {
            parse_binary_keys(data)?
        } else {
            parse_armored_keys(data)?
        };
        if keys.is_empty() {
            return Err(SignatureError::Keyring(
                "no public key found in the keyring".to_string(),
            ));
        }
        Ok(Keyring { keys })
    }

    /// Fingerprints (upper-case hex) of the primary keys, in keyring order.
    pub fn fingerprints(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| format!("{:X}", k.primary_key.fingerprint()))
            .collect()
    }

    /// Number of primary keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when the keyring holds no key (never the case for one made by `from_bytes`).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

fn parse_binary_keys(data: &[u8]) -> Result<Vec<SignedPublicKey>, SignatureError> {
    let iter = SignedPublicKey::from_bytes_many(data)
        .map_err(|e| SignatureError::Keyring(e.to_string()))?;
    let mut keys = Vec::new();
    for (i, key) in iter.enumerate() {
        let key = key.map_err(|e| SignatureError::Keyring(format!("key number {}: {e}", i + 1)))?;
        keys.push(key);
    }
    Ok(keys)
}

fn parse_armored_keys(data: &[u8]) -> Result<Vec<SignedPublicKey>, SignatureError> {
    let text = std::str::from_utf8(data).map_err(|_| {
        SignatureError::Keyring(
            "neither a binary OpenPGP keyring nor ASCII-armored text (not UTF-8)".to_string(),
        )
    })?;
    let mut keys = Vec::new();
    let mut rest = text;
    let mut blocks = 0;
    while let Some(begin) = rest.find(PUBLIC_KEY_HEADER) {
        let block = &rest[begin..];
        let Some(end) = block.find(PUBLIC_KEY_FOOTER) else {
            return Err(SignatureError::Keyring(format!(
                "armored block {} has no {PUBLIC_KEY_FOOTER} line",
                blocks + 1
            )));
        };
        let end = end + PUBLIC_KEY_FOOTER.len();
        blocks += 1;
        let (iter, _headers) = SignedPublicKey::from_armor_many_buf(&block.as_bytes()[..end])
            .map_err(|e| SignatureError::Keyring(format!("armored block {blocks}: {e}")))?;
        for key in iter {
            keys.push(
                key.map_err(|e| SignatureError::Keyring(format!("armored block {blocks}: {e}")))?,
            );
        }
        rest = &block[end..];
    }
    if blocks == 0 {
        return Err(SignatureError::Keyring(format!(
            "neither a binary OpenPGP keyring nor an ASCII-armored one (no {PUBLIC_KEY_HEADER} line)"
        )));
    }
    Ok(keys)
}

/// Verifies an `InRelease` file (an OpenPGP cleartext-signed `Release`) against `keyring`.
///
/// Succeeds when at least one of its signatures counts (see the module docs); returns the
/// signed text and who signed it.
pub fn verify_inrelease(
    data: &[u8],
    keyring: &Keyring,
    now_unix: i64,
) -> Result<Verified, SignatureError> {
    let document = Document::InRelease;
    let malformed = |why: String| SignatureError::Malformed { document, why };
    let text =
        std::str::from_utf8(data).map_err(|e| malformed(format!("it is not UTF-8 text ({e})")))?;
    let message = parse_cleartext(text).map_err(malformed)?;
    let signatures = parse_signature_packets(message.armored_signature).map_err(malformed)?;
    let found = verify_signatures(
        document,
        &signatures,
        message.canonical.as_bytes(),
        keyring,
        now_unix,
    )?;
    Ok(Verified {
        text: message.text,
        signer: found.signer,
        signed_at: Some(found.created),
    })
}

/// A cleartext-signed message taken apart.
struct Cleartext<'a> {
    /// Dash-unescaped lines without trailing blanks, with the file's line endings (the last
    /// line ended by the line break before the signature armor).
    text: String,
    /// The same lines joined by CR LF, without a final line break: what the signatures hash.
    canonical: String,
    /// From the BEGIN PGP SIGNATURE line to the END line.
    armored_signature: &'a str,
}

/// Splits a cleartext-signed message (RFC 9580 section 7) into its text and signature armor.
///
/// Strict about the framing: the header line first, only `Hash:` armor headers, a body whose
/// lines starting with `-` are dash-escaped, no carriage return outside a CR LF line ending,
/// one signature block, and nothing but line breaks after it.
fn parse_cleartext(input: &str) -> Result<Cleartext<'_>, String> {
    let no_header = || format!("it does not start with the line {CLEARTEXT_HEADER}");
    let rest = input.strip_prefix(CLEARTEXT_HEADER).ok_or_else(no_header)?;
    let mut rest = take_line_break(rest).ok_or_else(no_header)?;
    // Armor headers, up to an empty line.
    loop {
        let (line, after) = split_line(rest).ok_or("the message ends in its armor headers")?;
        rest = after;
        if line.is_empty() {
            break;
        }
        let Some(value) = line.strip_prefix("Hash:") else {
            return Err(format!(
                "unexpected armor header {:?} (only Hash: is allowed)",
                truncate(line)
            ));
        };
        if value.trim().is_empty() {
            return Err("empty Hash: armor header".to_string());
        }
    }
    // Body, up to the first line starting with five dashes.
    let mut text = String::with_capacity(rest.len());
    let mut canonical = String::with_capacity(rest.len() + rest.len() / 16);
    let mut pending_break = "";
    let mut number = 0usize;
    let armored_signature = loop {
        let Some((line, after)) = split_line(rest) else {
            return Err(format!("it has no {SIGNATURE_HEADER} line"));
        };
        if line.starts_with("-----") {
            if line != SIGNATURE_HEADER {
                return Err(format!(
                    "the signed text ends with {:?} instead of {SIGNATURE_HEADER}",
                    truncate(line)
                ));
            }
            text.push_str(pending_break);
            break rest;
        }
        number += 1;
        let content = if let Some(unescaped) = line.strip_prefix("- ") {
            unescaped
        } else if line.starts_with('-') {
            return Err(format!(
                "line {number} of the signed text starts with an unescaped dash"
            ));
        } else {
            line
        };
        if content.contains('\r') {
            return Err(format!(
                "line {number} of the signed text contains a carriage return"
            ));
        }
        let content = content.trim_end_matches([' ', '\t']);
        if number > 1 {
            canonical.push_str("\r\n");
        }
        canonical.push_str(content);
        text.push_str(pending_break);
        text.push_str(content);
        pending_break = &rest[line.len()..rest.len() - after.len()];
        rest = after;
    };
    let armored_signature = strip_after_signature(armored_signature)?;
    if armored_signature.matches(SIGNATURE_HEADER).count() != 1
        || armored_signature.matches(SIGNATURE_FOOTER).count() != 1
    {
        return Err("it must hold exactly one signature block".to_string());
    }
    Ok(Cleartext {
        text,
        canonical,
        armored_signature,
    })
}

/// `input` without its leading line break (LF or CR LF), if it has one.
fn take_line_break(input: &str) -> Option<&str> {
    input
        .strip_prefix("\r\n")
        .or_else(|| input.strip_prefix('\n'))
}

/// The first line of `input` (without its line break) and what follows the line break; `None`
/// when no line break is left.
fn split_line(input: &str) -> Option<(&str, &str)> {
    let nl = input.find('\n')?;
    let line = &input[..nl];
    let line = line.strip_suffix('\r').unwrap_or(line);
    Some((line, &input[nl + 1..]))
}

fn truncate(line: &str) -> &str {
    match line.char_indices().nth(60) {
        Some((i, _)) => &line[..i],
        None => line,
    }
}

/// Verifies `data` (e.g. a `Release` file) against a detached signature `sig` (e.g.
/// `Release.gpg`, armored or binary, possibly several signatures) and `keyring`.
pub fn verify_detached(
    data: &[u8],
    sig: &[u8],
    keyring: &Keyring,
    now_unix: i64,
) -> Result<Verified, SignatureError> {
    let document = Document::DetachedSignature;
    let malformed = |why: String| SignatureError::Malformed { document, why };
    let signatures = parse_detached(sig).map_err(malformed)?;
    let text = std::str::from_utf8(data)
        .map_err(|e| malformed(format!("the signed data is not UTF-8 text ({e})")))?;
    let found = verify_signatures(document, &signatures, data, keyring, now_unix)?;
    Ok(Verified {
        text: text.to_string(),
        signer: found.signer,
        signed_at: Some(found.created),
    })
}

fn parse_detached(sig: &[u8]) -> Result<Vec<Signature>, String> {
    let start = sig
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .ok_or_else(|| "the signature file is empty".to_string())?;
    let packets: &[u8] = if sig[start] & 0x80 != 0 {
        sig
    } else {
        let text = std::str::from_utf8(sig)
            .map_err(|_| "the signature is neither binary nor ASCII-armored".to_string())?;
        let trimmed = text.trim_start();
        if !trimmed.starts_with(SIGNATURE_HEADER) {
            return Err(format!(
                "the signature does not start with the line {SIGNATURE_HEADER}"
            ));
        }
        return parse_signature_packets(strip_after_signature(trimmed)?);
    };
    signature_packets(packets)
}

/// The signatures of one ASCII-armored signature block.
fn parse_signature_packets(armored: &str) -> Result<Vec<Signature>, String> {
    let mut dearmor = pgp::armor::Dearmor::new(armored.as_bytes());
    let mut binary = Vec::new();
    std::io::Read::read_to_end(&mut dearmor, &mut binary)
        .map_err(|e| format!("bad signature armor: {e}"))?;
    if dearmor.typ != Some(pgp::armor::BlockType::Signature) {
        return Err("the armored block is not a signature".to_string());
    }
    signature_packets(&binary)
}

fn signature_packets(packets: &[u8]) -> Result<Vec<Signature>, String> {
    let mut signatures = Vec::new();
    for packet in PacketParser::new(packets) {
        match packet {
            Ok(Packet::Signature(s)) => signatures.push(s),
            Ok(other) => {
                return Err(format!(
                    "unexpected {:?} packet in a detached signature",
                    other.tag()
                ));
            }
            Err(e) => return Err(format!("bad signature packet: {e}")),
        }
    }
    if signatures.is_empty() {
        return Err("there is no signature in the signature block".to_string());
    }
    Ok(signatures)
}

/// The armor must end the file: only line breaks may follow the END line. Returns the text
/// up to the END line (without the line breaks).
fn strip_after_signature(text: &str) -> Result<&str, String> {
    let Some(pos) = text.rfind(SIGNATURE_FOOTER) else {
        return Err(format!("it has no {SIGNATURE_FOOTER} line"));
    };
    let end = pos + SIGNATURE_FOOTER.len();
    if text[end..].bytes().any(|b| b != b'\n' && b != b'\r') {
        return Err(format!(
            "there is data after the {SIGNATURE_FOOTER} line; refusing unsigned content"
        ));
    }
    Ok(&text[..end])
}

struct Found {
    signer: String,
    created: i64,
}

/// A key component that can make data signatures.
enum Component<'a> {
    Primary(&'a SignedPublicKey),
    Subkey(&'a SignedPublicKey, &'a SignedPublicSubKey),
}

impl Component<'_> {
    fn primary(&self) -> &SignedPublicKey {
        match self {
            Component::Primary(k) | Component::Subkey(k, _) => k,
        }
    }

    fn label(&self) -> String {
        match self {
            Component::Primary(k) => format!("{:X}", k.primary_key.fingerprint()),
            Component::Subkey(k, s) => format!(
                "{:X} (subkey of {:X})",
                s.key.fingerprint(),
                k.primary_key.fingerprint()
            ),
        }
    }

    fn verify(&self, sig: &Signature, data: &[u8]) -> bool {
        match self {
            Component::Primary(k) => sig.verify(&k.primary_key, data).is_ok(),
            Component::Subkey(_, s) => sig.verify(&s.key, data).is_ok(),
        }
    }
}

fn issuer_label(sig: &Signature) -> String {
    if let Some(fp) = sig.issuer_fingerprint().first() {
        format!("{fp:X}")
    } else if let Some(id) = sig.issuer_key_id().first() {
        id.to_string().to_uppercase()
    } else {
        "(no issuer given)".to_string()
    }
}

fn issued_by(sig: &Signature, key: &impl KeyDetails) -> bool {
    let fps = sig.issuer_fingerprint();
    let ids = sig.issuer_key_id();
    if fps.is_empty() && ids.is_empty() {
        return true;
    }
    let fp = key.fingerprint();
    let id = key.legacy_key_id();
    fps.iter().any(|f| **f == fp) || ids.iter().any(|i| **i == id)
}

fn candidates<'a>(sig: &Signature, keyring: &'a Keyring) -> Vec<Component<'a>> {
    let mut out = Vec::new();
    for key in &keyring.keys {
        if issued_by(sig, &key.primary_key) {
            out.push(Component::Primary(key));
        }
        for sub in &key.public_subkeys {
            if issued_by(sig, &sub.key) {
                out.push(Component::Subkey(key, sub));
            }
        }
    }
    out
}

fn verify_signatures(
    document: Document,
    signatures: &[Signature],
    data: &[u8],
    keyring: &Keyring,
    now_unix: i64,
) -> Result<Found, SignatureError> {
    let mut problems = Vec::new();
    for sig in signatures {
        match check_signature(sig, data, keyring, now_unix) {
            Ok(found) => return Ok(found),
            Err(problem) => problems.push(problem),
        }
    }
    Err(SignatureError::NotVerified { document, problems })
}

fn check_signature(
    sig: &Signature,
    data: &[u8],
    keyring: &Keyring,
    now_unix: i64,
) -> Result<Found, SignatureProblem> {
    let issuer = issuer_label(sig);
    let unusable = |why: &str| SignatureProblem::Unusable {
        key: issuer.clone(),
        why: why.to_string(),
    };
    let components = candidates(sig, keyring);
    if components.is_empty() {
        return Err(SignatureProblem::UnknownKey { key: issuer });
    }
    if !matches!(sig.typ(), Some(SignatureType::Binary | SignatureType::Text)) {
        return Err(unusable(&format!(
            "it is a {:?} signature, not a document signature",
            sig.typ()
        )));
    }
    match sig.hash_alg() {
        Some(HashAlgorithm::Md5 | HashAlgorithm::Sha1 | HashAlgorithm::Ripemd160) | None => {
            return Err(unusable(&format!(
                "it uses the weak or unknown hash algorithm {:?}",
                sig.hash_alg()
            )));
        }
        Some(_) => {}
    }
    let Some(created) = sig.created() else {
        return Err(unusable("it has no creation time"));
    };
    let created = i64::from(created.as_secs());

    let mut last_problem = None;
    for component in &components {
        if !component.verify(sig, data) {
            last_problem = Some(SignatureProblem::Bad {
                key: component.label(),
            });
            continue;
        }
        if let Err(why) = component_valid_at(component, created) {
            last_problem = Some(SignatureProblem::KeyNotValid {
                key: component.label(),
                why,
            });
            continue;
        }
        if created > now_unix.saturating_add(CLOCK_SKEW) {
            return Err(SignatureProblem::FromTheFuture {
                key: component.label(),
                created,
            });
        }
        if let Some(exp) = sig.signature_expiration_time()
            && exp.as_secs() != 0
        {
            let expired = created + i64::from(exp.as_secs());
            if now_unix >= expired {
                return Err(SignatureProblem::Expired {
                    key: component.label(),
                    expired,
                });
            }
        }
        return Ok(Found {
            signer: format!("{:X}", component.primary().primary_key.fingerprint()),
            created,
        });
    }
    Err(last_problem.unwrap_or(SignatureProblem::UnknownKey { key: issuer }))
}

fn sig_created(sig: &Signature) -> Option<i64> {
    sig.created().map(|t| i64::from(t.as_secs()))
}

fn has_key_flags(sig: &Signature) -> bool {
    sig.config().is_some_and(|c| {
        c.hashed_subpackets()
            .any(|p| matches!(p.data, SubpacketData::KeyFlags(_)))
    })
}

/// Whether a revocation signature invalidates signatures made at `at`.
fn revocation_applies(rev: &Signature, at: i64) -> bool {
    match rev.revocation_reason_code() {
        Some(RevocationCode::KeySuperseded | RevocationCode::KeyRetired) => {
            sig_created(rev).is_none_or(|r| r <= at)
        }
        _ => true,
    }
}

/// The self-signature in force at `at`: the newest of `sigs` made at or before `at`, else
/// (keyrings often keep only the latest self-signature, made after older data signatures) the
/// oldest one.
fn self_sig_at<'a>(sigs: impl Iterator<Item = &'a Signature>, at: i64) -> Option<&'a Signature> {
    let dated: Vec<(i64, &Signature)> = sigs
        .filter_map(|s| sig_created(s).map(|c| (c, s)))
        .collect();
    dated
        .iter()
        .filter(|(c, _)| *c <= at)
        .max_by_key(|(c, _)| *c)
        .or_else(|| dated.iter().min_by_key(|(c, _)| *c))
        .map(|(_, s)| *s)
}

fn component_valid_at(component: &Component<'_>, at: i64) -> Result<(), String> {
    let key = component.primary();
    let self_sig = primary_valid_at(key, at)?;
    match component {
        Component::Primary(_) => {
            if has_key_flags(self_sig) && !self_sig.key_flags().sign() {
                return Err("the primary key is not flagged for signing".to_string());
            }
            Ok(())
        }
        Component::Subkey(primary, sub) => subkey_valid_at(primary, sub, at),
    }
}

/// Checks the primary key at time `at` and returns its self-signature in force then.
fn primary_valid_at(key: &SignedPublicKey, at: i64) -> Result<&Signature, String> {
    let pk = &key.primary_key;
    let key_created = i64::from(pk.created_at().as_secs());
    if at < key_created {
        return Err(format!(
            "the signature predates the key (created {})",
            utc(key_created)
        ));
    }
    for rev in &key.details.revocation_signatures {
        if rev.typ() == Some(SignatureType::KeyRevocation)
            && issued_by(rev, pk)
            && rev.verify_key(pk).is_ok()
            && revocation_applies(rev, at)
        {
            return Err("the key is revoked".to_string());
        }
    }
    let user_sigs = key.details.users.iter().flat_map(|user| {
        user.signatures.iter().filter(move |s| {
            s.is_certification()
                && s.typ() != Some(SignatureType::CertRevocation)
                && issued_by(s, pk)
                && s.verify_certification(pk, Tag::UserId, &user.id).is_ok()
        })
    });
    let direct_sigs = key.details.direct_signatures.iter().filter(|s| {
        s.typ() == Some(SignatureType::Key) && issued_by(s, pk) && s.verify_key(pk).is_ok()
    });
    let Some(self_sig) = self_sig_at(user_sigs.chain(direct_sigs), at) else {
        return Err("the key has no valid self-signature".to_string());
    };
    if let Some(exp) = self_sig.key_expiration_time()
        && exp.as_secs() != 0
    {
        let expires = key_created + i64::from(exp.as_secs());
        if at >= expires {
            return Err(format!("the key expired at {}", utc(expires)));
        }
    }
    Ok(self_sig)
}

fn subkey_valid_at(key: &SignedPublicKey, sub: &SignedPublicSubKey, at: i64) -> Result<(), String> {
    let pk = &key.primary_key;
    let sub_created = i64::from(sub.key.created_at().as_secs());
    if at < sub_created {
        return Err(format!(
            "the signature predates the subkey (created {})",
            utc(sub_created)
        ));
    }
    for rev in &sub.signatures {
        if rev.typ() == Some(SignatureType::SubkeyRevocation)
            && rev.verify_subkey_binding(pk, &sub.key).is_ok()
            && revocation_applies(rev, at)
        {
            return Err("the subkey is revoked".to_string());
        }
    }
    let bindings = sub.signatures.iter().filter(|s| {
        s.typ() == Some(SignatureType::SubkeyBinding)
            && s.verify_subkey_binding(pk, &sub.key).is_ok()
    });
    let Some(binding) = self_sig_at(bindings, at) else {
        return Err("the subkey has no valid binding signature".to_string());
    };
    if !binding.key_flags().sign() {
        return Err("the subkey is not flagged for signing".to_string());
    }
    let back_ok = binding
        .embedded_signature()
        .is_some_and(|back| back.verify_primary_key_binding(&sub.key, pk).is_ok());
    if !back_ok {
        return Err("the signing subkey has no valid back-signature".to_string());
    }
    if let Some(exp) = binding.key_expiration_time()
        && exp.as_secs() != 0
    {
        let expires = sub_created + i64::from(exp.as_secs());
        if at >= expires {
            return Err(format!("the subkey expired at {}", utc(expires)));
        }
    }
    Ok(())
}

/// `YYYY-MM-DD HH:MM:SS UTC` for Unix seconds (proleptic Gregorian calendar).
fn utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use pgp::composed::{
        ArmorOptions, CleartextSignedMessage, DetachedSignature, KeyType, SecretKeyParamsBuilder,
        SignedSecretKey, SubkeyParamsBuilder,
    };
    use pgp::packet::{KeyFlags, SignatureConfig, Subpacket};
    use pgp::ser::Serialize;
    use pgp::types::{Duration, Password, SigningKey, Timestamp};

    const INRELEASE: &[u8] = include_bytes!("../tests/fixtures/bookworm.InRelease");
    const RELEASE_GPG: &[u8] = include_bytes!("../tests/fixtures/bookworm.Release.gpg");
    const ARCHIVE_KEYRING: &[u8] = include_bytes!("../tests/fixtures/debian-archive-keyring.gpg");
    const BULLSEYE_STABLE: &[u8] =
        include_bytes!("../tests/fixtures/debian-archive-bullseye-stable.gpg");
    const BOOKWORM_STABLE: &[u8] =
        include_bytes!("../tests/fixtures/debian-archive-bookworm-stable.gpg");

    /// The bookworm InRelease fixture was signed on 2026-07-11; "now" is a day later.
    const NOW: i64 = 1_783_851_000;
    /// The Debian Archive Automatic Signing Key (12/bookworm), first signer of the fixture.
    const BOOKWORM_ARCHIVE_KEY: &str = "B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8";
    /// The Debian Stable Release Key (12/bookworm), an ed25519 key, third signer.
    const BOOKWORM_RELEASE_KEY: &str = "4D64FEC119C2029067D6E791F8D2585B8783D481";

    fn archive_keyring() -> Keyring {
        Keyring::from_bytes(ARCHIVE_KEYRING).expect("the Debian archive keyring parses")
    }

    #[test]
    fn debian_archive_keyring_loads_every_key() {
        let keyring = archive_keyring();
        let fps = keyring.fingerprints();
        // `gpg --show-keys` lists nine primary keys in this keyring.
        assert_eq!(fps.len(), 9, "{fps:?}");
        assert!(fps.iter().any(|f| f == BOOKWORM_ARCHIVE_KEY), "{fps:?}");
        assert!(fps.iter().all(|f| {
            f.len() == 40
                && f.bytes()
                    .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        }));
    }

    #[test]
    fn real_bookworm_inrelease_verifies() {
        let keyring = archive_keyring();
        let verified = verify_inrelease(INRELEASE, &keyring, NOW).expect("verifies");
        assert!(keyring.fingerprints().contains(&verified.signer));
        // The first signature is made by a subkey of the bookworm archive key.
        assert_eq!(verified.signer, BOOKWORM_ARCHIVE_KEY);
        let signed_at = verified.signed_at.expect("creation time");
        assert!(
            signed_at <= NOW && signed_at > NOW - 2 * 86_400,
            "{signed_at}"
        );
        assert!(verified.text.starts_with("Origin: Debian\n"));
        assert!(verified.text.contains("\nCodename: bookworm\n"));
        assert!(verified.text.ends_with('\n'));
        assert!(!verified.text.contains("PGP"));
    }

    #[test]
    fn inrelease_text_is_byte_exact_release() {
        // Release.gpg signs the Release file; it only verifies over our InRelease text when
        // that text is byte for byte the Release file.
        let keyring = archive_keyring();
        let verified = verify_inrelease(INRELEASE, &keyring, NOW).expect("verifies");
        let detached = verify_detached(verified.text.as_bytes(), RELEASE_GPG, &keyring, NOW)
            .expect("Release.gpg verifies over the InRelease text");
        assert_eq!(detached.signer, BOOKWORM_ARCHIVE_KEY);
        assert_eq!(detached.text, verified.text);
        let mut changed = verified.text.into_bytes();
        changed.push(b'\n');
        let err = verify_detached(&changed, RELEASE_GPG, &keyring, NOW).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Release.gpg signature does not verify: "),
            "{err}"
        );
    }

    #[test]
    fn ed25519_release_key_alone_verifies() {
        let keyring = Keyring::from_bytes(BOOKWORM_STABLE).expect("parses");
        assert_eq!(
            keyring.fingerprints(),
            vec![BOOKWORM_RELEASE_KEY.to_string()]
        );
        let verified = verify_inrelease(INRELEASE, &keyring, NOW).expect("verifies");
        assert_eq!(verified.signer, BOOKWORM_RELEASE_KEY);
    }

    #[test]
    fn keyring_without_the_signing_keys_fails_naming_them() {
        let keyring = Keyring::from_bytes(BULLSEYE_STABLE).expect("parses");
        let err = verify_inrelease(INRELEASE, &keyring, NOW).unwrap_err();
        let SignatureError::NotVerified { problems, .. } = &err else {
            panic!("unexpected error {err}");
        };
        assert_eq!(problems.len(), 3);
        let msg = err.to_string();
        assert!(
            msg.starts_with("InRelease signature does not verify: "),
            "{msg}"
        );
        assert!(msg.contains("none of which is in the keyring"), "{msg}");
        // The signing (sub)keys, as gpgv reports them.
        for key in [
            "4CB50190207B4758A3F73A796ED0E7B82643E131",
            "B8E5F13176D2A7A75220028078DBA3BC47EF2265",
            BOOKWORM_RELEASE_KEY,
        ] {
            assert!(msg.contains(key), "{key} missing in: {msg}");
        }
    }

    #[test]
    fn one_changed_digit_breaks_the_signature() {
        let text = std::str::from_utf8(INRELEASE).expect("utf-8");
        let sha_line = text.find("\nSHA256:\n ").expect("a SHA256 section") + "\nSHA256:\n ".len();
        let mut bytes = INRELEASE.to_vec();
        bytes[sha_line] = if bytes[sha_line] == b'0' { b'1' } else { b'0' };
        let err = verify_inrelease(&bytes, &archive_keyring(), NOW).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("InRelease signature does not verify: "),
            "{msg}"
        );
        assert!(msg.contains("BAD"), "{msg}");
        assert!(
            msg.contains("4CB50190207B4758A3F73A796ED0E7B82643E131"),
            "{msg}"
        );
    }

    #[test]
    fn data_outside_the_signed_message_is_refused() {
        let keyring = archive_keyring();
        let mut trailing = INRELEASE.to_vec();
        trailing.extend_from_slice(b"Suite: evil\n");
        let err = verify_inrelease(&trailing, &keyring, NOW).unwrap_err();
        assert!(matches!(err, SignatureError::Malformed { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("after the -----END PGP SIGNATURE-----")
        );

        let mut leading = b"Suite: evil\n".to_vec();
        leading.extend_from_slice(INRELEASE);
        let err = verify_inrelease(&leading, &keyring, NOW).unwrap_err();
        assert!(matches!(err, SignatureError::Malformed { .. }), "{err}");
        assert!(err.to_string().contains("does not start with"), "{err}");

        // Extra line breaks at the end are harmless.
        let mut newlines = INRELEASE.to_vec();
        newlines.extend_from_slice(b"\n\n");
        if let Err(e) = verify_inrelease(&newlines, &keyring, NOW) {
            panic!("trailing line breaks refused: {e}");
        }

        // An unsigned Release is not an InRelease.
        let release = verify_inrelease(INRELEASE, &keyring, NOW).expect("ok").text;
        let err = verify_inrelease(release.as_bytes(), &keyring, NOW).unwrap_err();
        assert!(matches!(err, SignatureError::Malformed { .. }), "{err}");
    }

    #[test]
    fn signature_from_the_future_is_refused_but_key_expiry_is_judged_at_signing() {
        let keyring = archive_keyring();
        let err = verify_inrelease(INRELEASE, &keyring, NOW - 10 * 86_400).unwrap_err();
        assert!(err.to_string().contains("in the future"), "{err}");
        // In 2040 every key of the keyring has expired, but they were valid when they signed.
        let verified = verify_inrelease(INRELEASE, &keyring, 2_200_000_000).expect("verifies");
        assert_eq!(verified.signer, BOOKWORM_ARCHIVE_KEY);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let keyring = archive_keyring();
        for data in [
            &b""[..],
            b"-----BEGIN PGP SIGNED MESSAGE-----\n",
            b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nx\n-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n",
            b"\xff\xfe",
        ] {
            assert!(verify_inrelease(data, &keyring, NOW).is_err());
        }
        assert!(Keyring::from_bytes(b"").is_err());
        assert!(Keyring::from_bytes(b"hello").is_err());
        assert!(Keyring::from_bytes(&ARCHIVE_KEYRING[..100]).is_err());
        assert!(Keyring::from_bytes(INRELEASE).is_err());
        assert!(verify_detached(b"x", b"", &keyring, NOW).is_err());
        assert!(verify_detached(b"x", b"\x88\x01", &keyring, NOW).is_err());
    }

    #[test]
    fn random_corruption_never_passes_off_other_text() {
        use rand::{Rng, SeedableRng};
        let keyring = archive_keyring();
        let original = verify_inrelease(INRELEASE, &keyring, NOW)
            .expect("verifies")
            .text;
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let mut rejected = 0;
        for _ in 0..300 {
            let mut bad = INRELEASE.to_vec();
            let i = rng.gen_range(0..bad.len());
            bad[i] = rng.r#gen::<u8>() & 0x7f;
            match verify_inrelease(&bad, &keyring, NOW) {
                // Some bytes are not covered (armor headers, checksum, unhashed subpackets):
                // a change there may still verify, but never with another text.
                Ok(v) => assert_eq!(v.text, original, "byte {i} changed the verified text"),
                Err(_) => rejected += 1,
            }
        }
        assert!(
            rejected > 250,
            "only {rejected} of 300 corruptions rejected"
        );
    }

    // --- self-made keys -------------------------------------------------------------------

    const T0: u32 = 1_700_000_000;
    const DAY: u32 = 86_400;

    fn make_key(with_signing_subkey: bool) -> SignedSecretKey {
        let mut params = SecretKeyParamsBuilder::default();
        params
            .key_type(KeyType::Ed25519Legacy)
            .can_certify(true)
            .can_sign(!with_signing_subkey)
            .created_at(Timestamp::from_secs(T0))
            .primary_user_id("Test Archive <archive@example.org>".into());
        if with_signing_subkey {
            let mut sub = SubkeyParamsBuilder::default();
            sub.key_type(KeyType::Ed25519Legacy)
                .can_sign(true)
                .created_at(Timestamp::from_secs(T0));
            params.subkeys(vec![sub.build().expect("subkey params")]);
        }
        params
            .build()
            .expect("key params")
            .generate(rand::thread_rng())
            .expect("key generation")
    }

    fn public_armored(key: &SignedPublicKey) -> Vec<u8> {
        key.to_armored_bytes(ArmorOptions::default())
            .expect("armor")
    }

    fn sign_cleartext(text: &str, signer: &impl SigningKey, at: u32) -> Vec<u8> {
        let mut config = SignatureConfig::v4(
            SignatureType::Text,
            signer.algorithm(),
            HashAlgorithm::Sha256,
        );
        config.hashed_subpackets = vec![
            Subpacket::regular(SubpacketData::SignatureCreationTime(Timestamp::from_secs(
                at,
            )))
            .expect("subpacket"),
            Subpacket::regular(SubpacketData::IssuerFingerprint(signer.fingerprint()))
                .expect("subpacket"),
        ];
        let msg =
            CleartextSignedMessage::new(text, config, signer, &Password::empty()).expect("sign");
        msg.to_armored_bytes(ArmorOptions::default())
            .expect("armor")
    }

    /// Replaces the primary key's self-signatures by one stating `expires_after`.
    fn with_expiry(secret: &SignedSecretKey, expires_after: u32) -> SignedPublicKey {
        let mut public = secret.to_public_key();
        let mut config = SignatureConfig::v4(
            SignatureType::CertPositive,
            secret.primary_key.algorithm(),
            HashAlgorithm::Sha256,
        );
        let mut flags = KeyFlags::default();
        flags.set_certify(true);
        flags.set_sign(true);
        config.hashed_subpackets = vec![
            Subpacket::regular(SubpacketData::SignatureCreationTime(Timestamp::from_secs(
                T0,
            )))
            .expect("subpacket"),
            Subpacket::regular(SubpacketData::IssuerFingerprint(
                secret.primary_key.fingerprint(),
            ))
            .expect("subpacket"),
            Subpacket::regular(SubpacketData::KeyFlags(flags)).expect("subpacket"),
            Subpacket::regular(SubpacketData::KeyExpirationTime(Duration::from_secs(
                expires_after,
            )))
            .expect("subpacket"),
        ];
        let user = &mut public.details.users[0];
        let sig = config
            .sign_certification(
                &secret.primary_key,
                secret.primary_key.public_key(),
                &Password::empty(),
                Tag::UserId,
                &user.id,
            )
            .expect("certification");
        user.signatures = vec![sig];
        public
    }

    fn keyring_of(keys: &[&SignedPublicKey]) -> Keyring {
        let mut armored = Vec::new();
        for key in keys {
            armored.extend_from_slice(&public_armored(key));
            armored.extend_from_slice(b"\n");
        }
        let keyring = Keyring::from_bytes(&armored).expect("armored keyring parses");
        assert_eq!(keyring.len(), keys.len());
        keyring
    }

    #[test]
    fn self_made_key_signs_and_verifies_with_escaped_text() {
        let secret = make_key(false);
        let public = secret.to_public_key();
        // rpgp signs a final line break as an empty last line; gpg does not: leave it out.
        let text = "Origin: Test\n-dashed line\n--- more\nSuite: x\nEnd: y";
        let signed = sign_cleartext(text, &secret.primary_key, T0 + 3600);
        assert!(
            signed.windows(4).any(|w| w == b"\n- -"),
            "dash-escaped in the file"
        );
        // Trailing blanks are not covered by a cleartext signature: adding some keeps it valid,
        // and they are not part of the text we return.
        let signed = String::from_utf8(signed).expect("utf-8");
        let data = signed.replacen("Suite: x\n", "Suite: x \t \n", 1);
        assert_ne!(data, signed);
        let keyring = keyring_of(&[&public]);
        let verified =
            verify_inrelease(data.as_bytes(), &keyring, i64::from(T0 + DAY)).expect("verifies");
        assert_eq!(verified.signer, format!("{:X}", public.fingerprint()));
        assert_eq!(verified.signed_at, Some(i64::from(T0 + 3600)));
        assert_eq!(
            verified.text,
            "Origin: Test\n-dashed line\n--- more\nSuite: x\nEnd: y\n"
        );
    }

    #[test]
    fn signing_subkey_reports_its_primary_and_binary_keyrings_work() {
        let secret = make_key(true);
        let public = secret.to_public_key();
        let sub = &secret.secret_subkeys[0].key;
        let data = sign_cleartext("Origin: Test\n", sub, T0 + 60);
        let binary = public.to_bytes().expect("serialize");
        let keyring = Keyring::from_bytes(&binary).expect("binary keyring parses");
        let verified = verify_inrelease(&data, &keyring, i64::from(T0 + 60)).expect("verifies");
        assert_eq!(verified.signer, format!("{:X}", public.fingerprint()));
        assert_ne!(
            verified.signer,
            format!("{:X}", sub.fingerprint()),
            "the primary, not the subkey"
        );
    }

    #[test]
    fn expired_key_does_not_count() {
        let secret = make_key(false);
        let public = with_expiry(&secret, DAY);
        let keyring = keyring_of(&[&public]);
        let now = i64::from(T0 + 10 * DAY);
        // Made while the key was valid: fine, even though it has expired since.
        let early = sign_cleartext("Origin: Test\n", &secret.primary_key, T0 + 3600);
        assert!(verify_inrelease(&early, &keyring, now).is_ok());
        // Made after the key expired.
        let late = sign_cleartext("Origin: Test\n", &secret.primary_key, T0 + 2 * DAY);
        let err = verify_inrelease(&late, &keyring, now).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("InRelease signature does not verify: "),
            "{msg}"
        );
        assert!(
            msg.contains("the key expired at 2023-11-15 22:13:20 UTC"),
            "{msg}"
        );
    }

    #[test]
    fn revoked_key_does_not_count() {
        let secret = make_key(false);
        let mut public = secret.to_public_key();
        let mut config = SignatureConfig::v4(
            SignatureType::KeyRevocation,
            secret.primary_key.algorithm(),
            HashAlgorithm::Sha256,
        );
        config.hashed_subpackets = vec![
            Subpacket::regular(SubpacketData::SignatureCreationTime(Timestamp::from_secs(
                T0 + DAY,
            )))
            .expect("subpacket"),
            Subpacket::regular(SubpacketData::IssuerFingerprint(
                secret.primary_key.fingerprint(),
            ))
            .expect("subpacket"),
            Subpacket::regular(SubpacketData::RevocationReason(
                RevocationCode::KeyCompromised,
                "stolen".into(),
            ))
            .expect("subpacket"),
        ];
        let rev = config
            .sign_key(
                &secret.primary_key,
                &Password::empty(),
                secret.primary_key.public_key(),
            )
            .expect("revocation");
        let data = sign_cleartext("Origin: Test\n", &secret.primary_key, T0 + 60);
        let now = i64::from(T0 + 2 * DAY);
        assert!(verify_inrelease(&data, &keyring_of(&[&public]), now).is_ok());
        public.details.revocation_signatures.push(rev);
        let err = verify_inrelease(&data, &keyring_of(&[&public]), now).unwrap_err();
        assert!(err.to_string().contains("the key is revoked"), "{err}");
    }

    #[test]
    fn unknown_signer_is_named_and_other_keys_still_count() {
        let ours = make_key(false);
        let theirs = make_key(false);
        let data = sign_cleartext("Origin: Test\n", &theirs.primary_key, T0);
        let keyring = keyring_of(&[&ours.to_public_key()]);
        let err = verify_inrelease(&data, &keyring, i64::from(T0)).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("{:X}", theirs.fingerprint()))
                && msg.contains("which is not in the keyring"),
            "{msg}"
        );
        // A keyring with both keys verifies.
        let both = keyring_of(&[&ours.to_public_key(), &theirs.to_public_key()]);
        let verified = verify_inrelease(&data, &both, i64::from(T0)).expect("verifies");
        assert_eq!(verified.signer, format!("{:X}", theirs.fingerprint()));
    }

    #[test]
    fn self_made_detached_signature() {
        let secret = make_key(false);
        let keyring = keyring_of(&[&secret.to_public_key()]);
        let data = b"Origin: Test\nSuite: x\n";
        let sig = DetachedSignature::sign_binary_data(
            rand::thread_rng(),
            &secret.primary_key,
            &Password::empty(),
            HashAlgorithm::Sha256,
            &data[..],
        )
        .expect("sign");
        let armored = sig
            .to_armored_bytes(ArmorOptions::default())
            .expect("armor");
        let now = Timestamp::now().as_secs();
        let verified = verify_detached(data, &armored, &keyring, i64::from(now)).expect("verifies");
        assert_eq!(verified.text.as_bytes(), data);
        let binary = sig.signature.to_bytes().expect("serialize");
        // A bare signature packet needs its packet header to be a packet stream.
        let mut framed = Vec::new();
        sig.signature
            .to_writer_with_header(&mut framed)
            .expect("serialize");
        assert!(framed.len() > binary.len());
        assert!(verify_detached(data, &framed, &keyring, i64::from(now)).is_ok());
        assert!(verify_detached(b"Origin: Evil\n", &framed, &keyring, i64::from(now)).is_err());
    }

    #[test]
    fn utc_formatting() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
    }
}
