#!/usr/bin/env node
// Committed so that npm links the bin at install time, before `dist/` is built.
(await import('../dist/run-bundle.js')).runBundle('knex-cli'); // see scripts/bundle-cli.mjs
