/**
 * Secrets (database passwords, S3 keys) must never reach stdout, stderr, errors or logs. Every connection that
 * pgclone parses registers its password here, and every line pgclone prints goes through {@link redact}.
 */

// One registry per process, shared by every copy of this module (the CLI's bundle and a `pgclone` a config file imports).
const REGISTRY = Symbol.for('pgclone.secrets');
const secrets: Set<string> = ((globalThis as { [REGISTRY]?: Set<string> })[REGISTRY] ??= new Set<string>());
const MASK = '***';

/** Remembers a secret so that {@link redact} hides it wherever it shows up later. */
export function rememberSecret(secret: string | undefined | null): void {
  // Very short secrets would mask ordinary words; they still never reach output through URLs (see below).
  if (secret && secret.length >= 3) {
    secrets.add(secret);
    secrets.add(encodeURIComponent(secret));
    // As tools print it inside JSON (a hook logging its config): `"` and `\` come out escaped.
    secrets.add(JSON.stringify(secret).slice(1, -1));
  }
}

// password=... in libpq keyword/value strings and query strings; sslpassword= (a client key's passphrase) too.
const KEYWORD_PASSWORD = /(\b(?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]+)/gi;

/** Returns `text` with URL passwords, `password=` values and every remembered secret replaced by `***`. */
export function redact(text: string): string {
  let out = maskUrlPasswords(text).replace(KEYWORD_PASSWORD, `$1${MASK}`);
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.replace(secretPattern(secret), MASK);
  }
  return out;
}

const WORD_CHAR = /[\p{L}\p{N}_]/u;
const patterns = new Map<string, RegExp>();

/**
 * Where a remembered secret is masked: where it stands whole, not inside a longer word, and not as a URL's scheme. A
 * password that is also a name — `postgres:postgres@…`, `shop:shop@…/shop` — would otherwise turn `postgresql://`
 * into `***ql://` and a copy `shop_backup` into `***_backup`, in every line and result. Printed as a secret is
 * printed (`PGPASSWORD=…`, `"…"`, `user:…@`), it stands whole.
 */
function secretPattern(secret: string): RegExp {
  let pattern = patterns.get(secret);
  if (!pattern) {
    const escaped = secret.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    // Only a side that is itself a word character needs a word boundary: `@secret` is masked in `user@secret`.
    const before = WORD_CHAR.test(secret[0] ?? '') ? '(?<![\\p{L}\\p{N}_])' : '';
    const after = WORD_CHAR.test(secret.at(-1) ?? '') ? '(?![\\p{L}\\p{N}_]|:\\/\\/)' : '';
    pattern = new RegExp(before + escaped + after, 'gu');
    patterns.set(secret, pattern);
  }
  return pattern;
}

const SCHEME_CHAR = /[a-z0-9+.-]/i;
const LETTER = /[a-z]/i;
const USER_END = /[/\s:@]/;
/** Where the host part ends: its first `/` or white space. */
const PASSWORD_LIMIT = /[/\s]/;

/**
 * Masks the password of `scheme://user:password@` in any URL-like text, whatever the scheme; of `scheme:/user:password@`
 * too, which is what path resolution makes of a URL passed where a path belongs (`--knexfile`, a storage directory),
 * and what messages then name. The password runs to the host part's last `@`, as a URL parser reads it: a password
 * with an unencoded `@` is masked whole. This is what the regular expression
 * `/([a-z][a-z0-9+.-]*:\/\/?[^/\s:@]*:)([^/\s]*)@/gi` replaces, found from each `:/` instead, because that expression,
 * tried at every letter of a long run (a minified line, a hex or base64 blob in a hook's output), took quadratic
 * time: 14 s for one 64 KiB line.
 */
function maskUrlPasswords(text: string): string {
  let out = '';
  let done = 0;
  for (let at = text.indexOf(':/'); at >= 0; at = text.indexOf(':/', at + 1)) {
    // The scheme: the run of scheme characters before `:/`, from its first letter.
    let start = at;
    while (start > done && SCHEME_CHAR.test(text[start - 1]!)) start--;
    while (start < at && !LETTER.test(text[start]!)) start++;
    if (start === at) continue;
    let colon = text[at + 2] === '/' ? at + 3 : at + 2;
    while (colon < text.length && !USER_END.test(text[colon]!)) colon++;
    if (text[colon] !== ':') continue;
    // The password: up to the last `@` before the host part's end.
    let end = -1;
    for (let i = colon + 1; i < text.length && !PASSWORD_LIMIT.test(text[i]!); i++) if (text[i] === '@') end = i;
    if (end < 0) continue;
    out += `${text.slice(done, colon + 1)}${MASK}`;
    done = end;
    at = end;
  }
  return out + text.slice(done);
}

/**
 * A value pgclone rejects (a storage location, an endpoint), for its error message. Whatever comes before its last
 * `@` may be user info with a password, however mangled the rest is (`http//user:pw@host`, `user:pw@host`), so it is
 * masked (a `scheme://` in front is kept), and remembered so that it stays hidden wherever it shows up later.
 */
export function hideUserInfo(text: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)?(.*)@/is.exec(text);
  if (!m) return text;
  const userInfo = m[2]!;
  rememberSecret(userInfo);
  rememberSecret(userInfo.slice(userInfo.indexOf(':') + 1));
  return `${m[1] ?? ''}${MASK}@${text.slice(m[0].length)}`;
}
