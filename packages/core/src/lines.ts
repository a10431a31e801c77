import { StringDecoder } from 'node:string_decoder';

/**
 * The longest line reported whole: output without newlines (a minified JSON, a binary, a progress bar drawn with `\r`)
 * is reported in pieces of this many characters rather than held until it ends.
 */
const MAX_LINE = 1024 * 1024;

/** Splits a byte stream into lines for reporting child process output as it arrives. */
export function lineSplitter(onLine: (line: string) => void): { push: (chunk: Buffer | string) => void; end: () => void } {
  // Chunks end anywhere, also inside a character of several bytes: the decoder keeps its first bytes for the next one.
  const decoder = new StringDecoder('utf8');
  let rest = '';
  return {
    push(chunk) {
      // Only the new text can hold the next newline: searching all of `rest` again made a long line quadratic.
      let from = rest.length;
      rest += typeof chunk === 'string' ? chunk : decoder.write(chunk);
      let index: number;
      while ((index = rest.indexOf('\n', from)) >= 0) {
        onLine(rest.slice(0, index).replace(/\r$/, ''));
        rest = rest.slice(index + 1);
        from = 0;
      }
      while (rest.length > MAX_LINE) {
        // Not between the two halves of a surrogate pair.
        const cut = isHighSurrogate(rest.charCodeAt(MAX_LINE - 1)) ? MAX_LINE - 1 : MAX_LINE;
        onLine(rest.slice(0, cut));
        rest = rest.slice(cut);
      }
    },
    end() {
      rest += decoder.end();
      if (rest) onLine(rest);
      rest = '';
    },
  };
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
