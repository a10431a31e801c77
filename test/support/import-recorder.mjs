// `node --import <this file>`: appends every resolved module URL containing $RECORD_IMPORTS_MATCH to the file
// $RECORD_IMPORTS_FILE. Lets tests check what a CLI run loads (the AWS SDK only for s3:// locations).
import { register } from 'node:module';

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
