/** Splits a byte stream into lines for reporting child process output as it arrives. */
export function lineSplitter(onLine: (line: string) => void): { push: (chunk: Buffer | string) => void; end: () => void } {
  let rest = '';
  return {
    push(chunk) {
      rest += chunk.toString();
      let index: number;
      while ((index = rest.indexOf('\n')) >= 0) {
        onLine(rest.slice(0, index).replace(/\r$/, ''));
        rest = rest.slice(index + 1);
      }
    },
    end() {
      if (rest) onLine(rest);
      rest = '';
    },
  };
}
