import { StringDecoder } from 'node:string_decoder';

/** Splits a byte stream into lines for reporting child process output as it arrives. */
export function lineSplitter(onLine: (line: string) => void): { push: (chunk: Buffer | string) => void; end: () => void } {
  // Chunks end anywhere, also inside a character of several bytes: the decoder keeps its first bytes for the next one.
  const decoder = new StringDecoder('utf8');
  let rest = '';
  return {
    push(chunk) {
      rest += typeof chunk === 'string' ? chunk : decoder.write(chunk);
      let index: number;
      while ((index = rest.indexOf('\n')) >= 0) {
        onLine(rest.slice(0, index).replace(/\r$/, ''));
        rest = rest.slice(index + 1);
      }
    },
    end() {
      rest += decoder.end();
      if (rest) onLine(rest);
      rest = '';
    },
  };
}
