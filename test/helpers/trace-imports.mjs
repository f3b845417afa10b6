// Loaded with `node --import`: appends the URL of every module the process
// resolves to the file named by $S3SIFT_TRACE_IMPORTS (test/cli/startup.test.ts).
import { register } from 'node:module';

const hooks = `
import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (process.env.S3SIFT_TRACE_IMPORTS) appendFileSync(process.env.S3SIFT_TRACE_IMPORTS, r.url + '\\n');
  return r;
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
