import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { redact } from '../src/redact.js';

// What redact() masked in URLs until the scan replaced it: the meaning stays, the quadratic time does not. With one
// slash too: a URL passed where a path belongs comes back from path resolution as `postgresql:/user:password@host/…`.
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/?[^/\s:@]*:)([^/\s]*)@/gi;

describe('redact', () => {
  it('masks URL passwords exactly as the regular expression it replaced did', () => {
    const pieces = fc.constantFrom('a', 'Z', 'q1', '0', '+', '.', '-', ':', '/', '//', '://', '@', ' ', '\n', '_', 'pw', 'postgres://', 'u:p@h');
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 30 }).map((parts) => parts.join('')), (text) => {
        expect(redact(text)).toBe(text.replace(URL_PASSWORD, '$1***@'));
      }),
      { numRuns: 20_000 },
    );
    expect(redact('DATABASE_URL=postgres://app:s3cret@db/app and redis://:token@cache')).toBe('DATABASE_URL=postgres://app:***@db/app and redis://:***@cache');
    // `-s ./postgresql://app:s3cret@db/app`, resolved: the storage's display named it so.
    expect(redact('Dump k does not exist in /home/me/postgresql:/app:s3cret@db/app/')).toBe('Dump k does not exist in /home/me/postgresql:/app:***@db/app/');
  });

  it('passes a long line without a URL through whole (a hex or base64 blob in a hook output)', () => {
    // Each letter of the run was a start for the old expression, each trying the rest of the run: 11 s for 64 KiB of
    // letters, hours for this megabyte.
    const blob = 'x'.repeat(1_000_000);
    expect(redact(blob)).toBe(blob);
    expect(redact(`${blob} postgres://u:secret@h`)).toBe(`${blob} postgres://u:***@h`);
    // Many URL-like pieces without an `@`: each looks for its password's end only up to its own host part's end.
    const pieces = 'a://u:0123456789/'.repeat(50_000);
    expect(redact(pieces)).toBe(pieces);
  });
});
