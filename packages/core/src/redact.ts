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

// password=... in libpq keyword/value strings and query strings.
const KEYWORD_PASSWORD = /(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]+)/gi;

/** Returns `text` with URL passwords, `password=` values and every remembered secret replaced by `***`. */
export function redact(text: string): string {
  let out = maskUrlPasswords(text).replace(KEYWORD_PASSWORD, `$1${MASK}`);
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join(MASK);
  }
  return out;
}

const SCHEME_CHAR = /[a-z0-9+.-]/i;
const LETTER = /[a-z]/i;
const USER_END = /[/\s:@]/;
const PASSWORD_END = /[@\s]/;

/**
 * Masks the password of `scheme://user:password@` in any URL-like text, whatever the scheme: what the regular
 * expression `/([a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:)([^@\s]*)@/gi` replaced, found from each `://` instead, because that
 * expression, tried at every letter of a long run (a minified line, a hex or base64 blob in a hook's output), took
 * quadratic time: 14 s for one 64 KiB line.
 */
function maskUrlPasswords(text: string): string {
  let out = '';
  let done = 0;
  for (let at = text.indexOf('://'); at >= 0; at = text.indexOf('://', at + 1)) {
    // The scheme: the run of scheme characters before `://`, from its first letter.
    let start = at;
    while (start > done && SCHEME_CHAR.test(text[start - 1]!)) start--;
    while (start < at && !LETTER.test(text[start]!)) start++;
    if (start === at) continue;
    let colon = at + 3;
    while (colon < text.length && !USER_END.test(text[colon]!)) colon++;
    if (text[colon] !== ':') continue;
    let end = colon + 1;
    while (end < text.length && !PASSWORD_END.test(text[end]!)) end++;
    if (text[end] !== '@') continue;
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
