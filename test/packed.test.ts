// The packages as a user installs them: `npm pack` of each publishable workspace, extracted into a project of its
// own outside the monorepo. Only what the tarballs hold and what the packages declare (dependencies and peers) is
// there: each declared package is linked from the monorepo's node_modules (npm ci fetched them; no network here), and
// nothing else, so a file missing from `files` or a package used without being declared fails these tests.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv } from './support/cli.js';
import { removeDir, repoRoot, tempDir } from './support/fixtures.js';
import { createDatabase, dbUrl, uniqueName } from './support/pg.js';

const run = promisify(execFile);
const WORKSPACES = ['core', 'storage', 'knex', 'prisma', 'pgclone'];

interface Packed {
  name: string;
  dir: string;
  manifest: {
    version: string;
    types?: string;
    typings?: string;
    exports?: Record<string, string | { types?: string }>;
    dependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
  };
}

let root: string;
let app: string;
let packed: Packed[];

beforeAll(async () => {
  root = tempDir('pgclone-packed-');
  const { stdout } = await run(
    'npm',
    ['pack', '--ignore-scripts', '--json', '--pack-destination', root, ...WORKSPACES.flatMap((w) => ['-w', `packages/${w}`])],
    { cwd: repoRoot, maxBuffer: 64 * 1024 * 1024 },
  );
  app = path.join(root, 'app');
  const modules = path.join(app, 'node_modules');
  packed = (JSON.parse(stdout) as Array<{ name: string; filename: string }>).map(({ name, filename }) => {
    const dir = path.join(modules, name);
    mkdirSync(dir, { recursive: true });
    execFileSync('tar', ['-xzf', path.join(root, filename), '-C', dir, '--strip-components=1']);
    return { name, dir, manifest: JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as Packed['manifest'] };
  });
  const names = new Set(packed.map((p) => p.name));
  // The user's own: knex and vitest are peers; @types/node is in any TypeScript project for Node.
  const declared = new Set(['@types/node']);
  for (const { manifest } of packed) {
    for (const dep of Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies })) if (!names.has(dep)) declared.add(dep);
  }
  for (const dep of declared) {
    mkdirSync(path.dirname(path.join(modules, dep)), { recursive: true });
    symlinkSync(path.join(repoRoot, 'node_modules', dep), path.join(modules, dep), 'dir');
  }
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'user-app', private: true, type: 'module' }));
}, 120_000);

afterAll(() => {
  if (root) removeDir(root);
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

describe('the packed packages', () => {
  it('ship the sources their source maps and declaration maps point at', () => {
    const missing: string[] = [];
    for (const { dir, name } of packed) {
      for (const file of filesUnder(dir).filter((f) => f.endsWith('.map'))) {
        const map = JSON.parse(readFileSync(file, 'utf8')) as { sources: string[]; sourceRoot?: string; sourcesContent?: Array<string | null> };
        map.sources.forEach((source, i) => {
          // A bundled package's own map may name a file that package never shipped (get-caller-file's index.ts).
          if (map.sourcesContent?.[i] != null || source.includes('node_modules/')) return;
          const target = path.resolve(path.dirname(file), map.sourceRoot ?? '', source);
          if (!existsSync(target)) missing.push(`${name}/${path.relative(dir, file)} -> ${source}`);
        });
      }
    }
    expect(missing.slice(0, 5)).toEqual([]);
  });

  it('load from CommonJS with require() where Node can require ES modules', async () => {
    const requireModule = (process.features as { require_module?: boolean }).require_module === true;
    if (!requireModule) return; // Node < 20.19: require() of an ES module is ERR_REQUIRE_ESM, which says so
    writeFileSync(
      path.join(app, 'use.cjs'),
      "const p = require('pgclone'); const k = require('@pgclone/knex'); const r = require('@pgclone/prisma');\n" +
        'console.log(JSON.stringify([typeof p.dump, typeof p.default.restore, typeof k.fromKnexfile, typeof r.fromPrismaProject]));\n',
    );
    const { stdout } = await run(process.execPath, ['use.cjs'], { cwd: app });
    expect(JSON.parse(stdout)).toEqual(['function', 'function', 'function', 'function']);
  });

  it('declare a dependency, with types, for every package their exported declarations import', () => {
    const byName = new Map(packed.map((p) => [p.name, p]));
    /** The declaration file of `subpath` in a packed package's exports (`.` for the package itself). */
    const typesOf = (p: Packed, subpath: string): string | undefined => {
      const entry = p.manifest.exports?.[subpath];
      const types = typeof entry === 'object' ? entry.types : subpath === '.' ? p.manifest.types : undefined;
      return types ? path.join(p.dir, types) : undefined;
    };
    const pending = packed.flatMap((p) => Object.keys(p.manifest.exports ?? { '.': '' }).map((sub) => typesOf(p, sub))).filter((f) => f !== undefined);
    const seen = new Set<string>();
    const problems = new Set<string>();
    while (pending.length > 0) {
      const file = pending.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      const owner = packed.find((p) => file.startsWith(p.dir + path.sep))!;
      const declared = { ...owner.manifest.dependencies, ...owner.manifest.peerDependencies };
      if (!existsSync(file)) {
        problems.add(`${owner.name}: ${path.relative(owner.dir, file)} is not in the package`);
        continue;
      }
      const text = readFileSync(file, 'utf8');
      for (const [, fromClause, inline] of text.matchAll(/^(?:import|export)\s[^;]*?from\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm)) {
        const specifier = fromClause ?? inline;
        if (specifier!.startsWith('.')) {
          pending.push(path.resolve(path.dirname(file), specifier!).replace(/\.js$/, '.d.ts'));
          continue;
        }
        if (specifier!.startsWith('node:')) continue;
        const parts = specifier!.split('/');
        const pkg = specifier!.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
        const subpath = ['.', ...parts.slice(pkg.split('/').length)].join('/');
        const sibling = byName.get(pkg);
        if (sibling) {
          if (!(pkg in declared)) problems.add(`${owner.name} imports ${pkg} without declaring it`);
          const target = typesOf(sibling, subpath);
          if (target) pending.push(target);
          else problems.add(`${owner.name} imports ${specifier}, which has no types`);
          continue;
        }
        const own = JSON.parse(readFileSync(path.join(repoRoot, 'node_modules', pkg, 'package.json'), 'utf8')) as Packed['manifest'];
        const entry = own.exports?.[subpath];
        const typed = typeof entry === 'object' ? 'types' in entry : subpath === '.' && Boolean(own.types ?? own.typings);
        const typesPackage = `@types/${pkg.replace(/^@/, '').replace('/', '__')}`;
        if (!(pkg in declared)) problems.add(`${owner.name}: ${path.relative(owner.dir, file)} imports ${pkg}, not a dependency`);
        else if (!typed && !(typesPackage in declared)) problems.add(`${owner.name}: ${path.relative(owner.dir, file)} imports ${pkg}, whose types (${typesPackage}) are not a dependency`);
      }
    }
    expect([...problems]).toEqual([]);
  });

  it('give a TypeScript user their types with node16 and with bundler resolution', async () => {
    writeFileSync(
      path.join(app, 'use.ts'),
      [
        "import pgclone, { restore, PgcloneError, type RestoreResult } from 'pgclone';",
        "import { useTestDatabase } from 'pgclone/vitest';",
        "import { fromKnexfile } from '@pgclone/knex';",
        "import { fromPrismaProject } from '@pgclone/prisma';",
        "export const result: Promise<RestoreResult> = restore(':fixture').then((r) => r);",
        '// @ts-expect-error: a typed API rejects a number where a key goes (an untyped one would not)',
        'void pgclone.restore(42);',
        'export const all = [PgcloneError, useTestDatabase, fromKnexfile, fromPrismaProject];',
        '',
      ].join('\n'),
    );
    const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const check = (module: string, moduleResolution: string) =>
      run(process.execPath, [tsc, '--noEmit', '--strict', '--skipLibCheck', '--target', 'es2022', '--module', module, '--moduleResolution', moduleResolution, '--types', 'node', 'use.ts'], { cwd: app }).then(
        () => '',
        (error: { stdout?: string }) => `${moduleResolution}: ${error.stdout ?? String(error)}`,
      );
    const failures = (await Promise.all([check('node16', 'node16'), check('esnext', 'bundler')])).filter(Boolean);
    expect(failures).toEqual([]);
  });

  it('run their bins: --version, --help, and a dump and ls against a real database', async () => {
    const bin = (name: string) => path.join(app, 'node_modules', 'pgclone', 'bin', `${name}.js`);
    const version = packed.find((p) => p.name === 'pgclone')!.manifest.version;
    expect((await run(process.execPath, [bin('pgclone'), '--version'], { cwd: app })).stdout.trim()).toBe(version);
    expect((await run(process.execPath, [bin('pgclone'), '--help'], { cwd: app })).stdout).toContain('pgclone restore [key]');
    for (const name of ['knex-pgclone', 'prisma-pgclone']) {
      expect((await run(process.execPath, [bin(name), '--help'], { cwd: app, env: { ...process.env, COLUMNS: '80' } })).stdout).toContain('restore');
    }
    const db = uniqueName('packed');
    await createDatabase(db);
    const env = cliEnv({ DATABASE_URL: dbUrl(db) });
    const { stdout } = await run(process.execPath, [bin('pgclone'), 'dump', '-q'], { cwd: app, env });
    const key = stdout.trim().split('\n').at(-1);
    expect(key).toMatch(/^dev\/default\/none\/.+\.dump$/);
    expect((await run(process.execPath, [bin('pgclone'), 'ls'], { cwd: app, env })).stdout.trim()).toBe(key);
  });
  it("run the commands of the pgclone package's README, in order, against a real database", async () => {
    const readme = readFileSync(path.join(app, 'node_modules', 'pgclone', 'README.md'), 'utf8');
    const block = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    const commands = block
      .split('\n')
      .map((line) => line.replace(/\s+#.*$/, '').trim())
      .filter((line) => line.startsWith('npx pgclone '));
    expect(commands.length).toBeGreaterThanOrEqual(3);
    const db = uniqueName('readme');
    await createDatabase(db);
    // A user's machine: no PGCLONE_INSTANCE, so keys start with the host name.
    const env = cliEnv({ DATABASE_URL: dbUrl(db), PGCLONE_INSTANCE: undefined });
    const bin = path.join(app, 'node_modules', 'pgclone', 'bin', 'pgclone.js');
    // Its own project folder, so the dumps of the test above are not in its storage.
    const cwd = path.join(app, 'readme');
    mkdirSync(cwd);
    for (const command of commands) {
      const args = command.split(/\s+/).slice(2);
      const outcome = await run(process.execPath, [bin, ...args], { cwd, env }).then(
        () => 'ok',
        (error: { stderr?: string }) => error.stderr?.trim().split('\n').at(-1),
      );
      expect({ command, outcome }).toEqual({ command, outcome: 'ok' });
    }
  });
});
