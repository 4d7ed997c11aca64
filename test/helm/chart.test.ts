/**
 * The Helm chart in helm/echocenter: `helm lint --strict`, `helm template` with several sets of values,
 * every rendered object validated against the Kubernetes schemas (kubernetes-models), the secrets kept
 * out of ConfigMaps, the checks that refuse a broken release, and the probes and shutdown timing that
 * PROTOCOL §2 and issue 4 rely on.
 * Helm and the validators come from helm-kit.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IConfigMap, IContainer, IProbe, ISecret, IService } from 'kubernetes-models/v1';
import type { IDeployment } from 'kubernetes-models/apps/v1';
import type { IJob } from 'kubernetes-models/batch/v1';
import type { IIngress } from 'kubernetes-models/networking.k8s.io/v1';
import { byKind, CHART, describeWithHelm, helmRun, type K8sObject, one, render, renderError, ROOT, SECRET_FRAGMENTS, SECRETS, useHelmWorkDir, validate } from './helm-kit';

const withSecrets = { secrets: SECRETS };
const VALUE_SETS: Record<string, object[]> = {
  'defaults + secrets': [withSecrets],
  existingSecret: [{ existingSecret: 'echo-prod-secrets' }],
  'ingress, sticky sessions, migration job, ServiceMonitor, autoscaler': [
    withSecrets,
    {
      autoscaling: { enabled: true, connectedSockets: { enabled: true } },
      ingress: { enabled: true, cookieAffinity: { enabled: true }, tls: [{ secretName: 'echo-tls', hosts: ['echocenter.example.com'] }] },
      service: { sessionAffinity: 'ClientIP' },
      migrations: { job: { enabled: true } },
      metrics: { serviceMonitor: { enabled: true }, podAnnotations: true },
    },
  ],
  'one replica without Redis': [{ replicaCount: 1, secrets: { ...SECRETS, REDIS_URL: '' } }],
  'one replica on SQLite': [{ replicaCount: 1, config: { DB_DRIVER: 'sqlite' }, secrets: { JWT_SECRET: SECRETS.JWT_SECRET, ADMIN_PASSWORD: SECRETS.ADMIN_PASSWORD } }],
};

const serverContainer = (d: IDeployment): IContainer => d.spec!.template.spec!.containers.find((c) => c.name === 'echocenter')!;
const durationSeconds = (text: string): number => {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text)!;
  return (Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[(m[2] ?? 'ms') as 'ms']);
};

// ---------------------------------------------------------------------------------------------

describeWithHelm('helm chart helm/echocenter', () => {
  useHelmWorkDir();

  test('helm lint --strict passes with the required values, and with every option on', () => {
    for (const values of [[withSecrets], VALUE_SETS['ingress, sticky sessions, migration job, ServiceMonitor, autoscaler'], VALUE_SETS.existingSecret]) {
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

    const objects = render(...VALUE_SETS['ingress, sticky sessions, migration job, ServiceMonitor, autoscaler']);
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
    const objects = render(...VALUE_SETS['ingress, sticky sessions, migration job, ServiceMonitor, autoscaler']);
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
