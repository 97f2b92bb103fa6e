/**
 * This very install of Tower, as the tar.gz that bootstrap's `tower` phase unpacks on a box: bin/, dist/
 * (no maps or typings), package.json, and the packages the session host loads at runtime (traced by
 * running `tower host run`: node-pty and its platform package, better-sqlite3 with its compiled module
 * and the two packages that find it, xterm's headless terminal and serializer, zod, commander).
 *
 * Built with tar-stream rather than the system tar: the entries, their order, modes and times are ours,
 * so the same files always make the same archive on any machine (GNU and BSD tar disagree on the flags
 * for that), and the file list is chosen here without copying a tree first. The box unpacks it with
 * its own `tar -xzf -`, which busybox has too.
 *
 * Named by its content (`<version>-<sha256 of the files, 12 hex>`), built once per process and kept in
 * <state-dir>/bootstrap/bundles/, so it is built again only when the install changes.
 */
import { createHash } from 'node:crypto';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { arch, platform } from 'node:os';
import { join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { TowerError } from '../../protocol/index.js';
import { TOWER_VERSION } from '../../state/version.js';
import { bootstrapDir } from './state.js';

export const INSTALL_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Packages with every file but sources, typings, tests and docs; or, with `only`, just those paths. */
const RUNTIME_PACKAGES: Array<{ name: string; only?: string[] }> = [
  { name: '@lydell/node-pty' },
  { name: `@lydell/node-pty-${platform()}-${arch()}` },
  { name: 'better-sqlite3', only: ['package.json', 'lib', 'build/Release/better_sqlite3.node'] },
  { name: 'bindings' },
  { name: 'file-uri-to-path' },
  { name: '@xterm/headless' },
  { name: '@xterm/addon-serialize' },
  { name: 'zod' },
  { name: 'commander' },
];

const SKIPPED_DIRS = new Set(['src', 'test', 'tests', 'typings', 'docs', '.github']);
const SKIPPED_SUFFIXES = ['.map', '.d.ts', '.d.cts', '.d.mts', '.md'];
/** A fixed time for every entry, so the archive depends on the files alone. */
const MTIME = new Date('2020-01-01T00:00:00Z');

export interface Bundle {
  /** `<version>-<content hash>`: the directory it unpacks to on a box (~/.tower/runtime/<id>). */
  id: string;
  path: string;
  bytes: number;
  files: number;
}

interface BundleFile {
  /** Relative to the install root, with `/`. */
  name: string;
  path: string;
  executable: boolean;
}

const built = new Map<string, Promise<Bundle>>();

/** This install's bundle, built at most once per process and state dir. */
export function towerBundle(stateDir: string): Promise<Bundle> {
  let bundle = built.get(stateDir);
  if (!bundle) {
    bundle = buildBundle(join(bootstrapDir(stateDir), 'bundles'));
    built.set(stateDir, bundle);
    bundle.catch(() => built.delete(stateDir));
  }
  return bundle;
}

export async function buildBundle(cacheDir: string, root = INSTALL_ROOT): Promise<Bundle> {
  const files = bundleFiles(root);
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(`${file.name}\0${file.executable ? 'x' : '-'}\0`);
    hash.update(readFileSync(file.path));
    hash.update('\0');
  }
  const id = `${TOWER_VERSION}-${hash.digest('hex').slice(0, 12)}`;
  const path = join(cacheDir, `${id}.tar.gz`);
  if (!existsSync(path)) {
    mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
    const temporary = `${path}.${process.pid}.tmp`;
    const pack = tar.pack();
    const written = pipeline(pack, createGzip({ level: 6 }), createWriteStream(temporary, { mode: 0o600 }));
    for (const file of files) {
      const content = readFileSync(file.path);
      await new Promise<void>((resolve, reject) =>
        pack.entry(
          { name: file.name, size: content.length, mode: file.executable ? 0o755 : 0o644, mtime: MTIME },
          content,
          (error) => (error ? reject(error) : resolve()),
        ),
      );
    }
    pack.finalize();
    await written;
    renameSync(temporary, path);
    for (const old of readdirSync(cacheDir))
      if (old !== `${id}.tar.gz`) rmSync(join(cacheDir, old), { force: true });
  }
  return { id, path, bytes: statSync(path).size, files: files.length };
}

/** Every file of the bundle, sorted by name. */
export function bundleFiles(root: string): BundleFile[] {
  const files: BundleFile[] = [];
  const add = (path: string) => {
    const name = relative(root, path).split(sep).join('/');
    files.push({ name, path, executable: (statSync(path).mode & 0o100) !== 0 });
  };
  add(join(root, 'package.json'));
  for (const path of walk(join(root, 'bin'), false)) add(path);
  for (const path of walk(join(root, 'dist'), false)) add(path);
  for (const { name, only } of RUNTIME_PACKAGES) {
    const dir = join(root, 'node_modules', ...name.split('/'));
    if (!existsSync(join(dir, 'package.json')))
      throw new TowerError('internal', `cannot bundle Tower for a box: ${name} is not installed at ${dir}`);
    const paths = only ? only.flatMap((part) => [...walk(join(dir, part), false, true)]) : walk(dir, true);
    for (const path of paths) add(path);
  }
  return files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Files under `path` (or `path` itself, when a file), without maps, typings and docs. */
function* walk(path: string, skipDirs: boolean, exact = false): Generator<string> {
  const stat = statSync(path);
  if (stat.isFile()) {
    if (exact || !SKIPPED_SUFFIXES.some((suffix) => path.endsWith(suffix))) yield path;
    return;
  }
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.isDirectory() && skipDirs && SKIPPED_DIRS.has(entry.name)) continue;
    if (entry.isDirectory() && entry.name === 'node_modules') continue;
    if (entry.isDirectory() || entry.isFile()) yield* walk(join(path, entry.name), skipDirs);
  }
}
