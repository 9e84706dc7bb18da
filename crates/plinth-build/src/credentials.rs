//! Credentials in URLs (`https://user:token@host/...`): one scanner for every place plinth
//! writes a URL it was given (history, progress, errors, lock files, labels, sources.list).

/// Rewrites the user-info of every `scheme://` URL in `text` with `rewrite(scheme, userinfo)`
/// (`None` drops it with its `@`). A URL's authority ends at the first `/`, white space, quote
/// or angle bracket, as git reads it.
fn rewrite_userinfo(text: &str, rewrite: impl Fn(&str, &str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let scheme_start = head[..i]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |p| p + 1);
        let scheme = head[scheme_start..i].to_ascii_lowercase();
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>'))
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                if let Some(kept) = rewrite(&scheme, &authority[..at]) {
                    out.push_str(&kept);
                    out.push('@');
                }
                out.push_str(&authority[at + 1..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Replaces the user-info of every URL with `***`, so credentials in an ADD source never reach
/// the history, the progress output or an error message (and the reader sees that some were
/// there).
pub fn redact_credentials(text: &str) -> String {
    rewrite_userinfo(text, |_, _| Some("***".to_string()))
}

/// Removes the user-info of every URL in `text`: all of it, except a bare user name (no
/// password) of an `ssh://`, `git+ssh://` or `ssh+git://` URL, which is not a secret. For
/// values that must stay usable URLs: lock files, labels, an image's sources.list.
pub fn strip_credentials(text: &str) -> String {
    rewrite_userinfo(text, |scheme, userinfo| {
        let ssh = matches!(scheme, "ssh" | "git+ssh" | "ssh+git");
        (ssh && !userinfo.contains(':')).then(|| userinfo.to_string())
    })
}
