// `node --import ./test/helpers/record-imports.mjs`: appends the URL of every module the ESM loader resolves to
// the file named by RECORD_IMPORTS_FILE. Register it after tsx so that it sees the .ts files tsx resolves to.
import { register } from 'node:module';
import process from 'node:process';

register('./record-imports-hooks.mjs', import.meta.url, { data: { file: process.env.RECORD_IMPORTS_FILE } });
