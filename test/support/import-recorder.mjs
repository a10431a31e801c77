// `node --import <this file>`: appends every resolved module URL containing $RECORD_IMPORTS_MATCH to the file
// $RECORD_IMPORTS_FILE, and at exit every CommonJS module that was required (the CLI bundle is CommonJS, so it
// `require`s what it loads from outside). Lets tests check what a CLI run loads (the AWS SDK only for s3:// locations).
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';

const requireCache = createRequire(import.meta.url).cache;
process.on('exit', () => {
  const required = Object.keys(requireCache).filter((file) => file.includes(process.env.RECORD_IMPORTS_MATCH));
  if (required.length > 0) appendFileSync(process.env.RECORD_IMPORTS_FILE, required.map((file) => `${file}\n`).join(''));
});

register(
  `data:text/javascript,${encodeURIComponent(`
    import { appendFileSync } from 'node:fs';
    export async function resolve(specifier, context, next) {
      const result = await next(specifier, context);
      if (result.url.includes(process.env.RECORD_IMPORTS_MATCH)) appendFileSync(process.env.RECORD_IMPORTS_FILE, result.url + '\\n');
      return result;
    }
  `)}`,
  import.meta.url,
);
