/**
 * Issue 13's chart parts: the optional HorizontalPodAutoscaler (refused where several replicas are),
 * values.schema.json (wrong types and unknown keys refused before anything renders), and the
 * chart-testing value sets under helm/echocenter/ci/, each rendered, linted and validated.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IDeployment } from 'kubernetes-models/apps/v1';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import type { IIngress } from 'kubernetes-models/networking.k8s.io/v1';
import type { ISecret } from 'kubernetes-models/v1';
import { byKind, CHART, describeWithHelm, helmRun, type K8sObject, one, parseYamlDocuments, render, renderError, SECRETS, useHelmWorkDir, validate } from './helm-kit';

const withSecrets = { secrets: SECRETS };
const SCHEMA_REFUSAL = /values don't meet the specifications of the schema/;
const CI_DIR = join(CHART, 'ci');

/** `helm <command>` with a chart-testing values file, as `ct` runs it. */
function withCiFile(command: 'template' | 'lint', file: string) {
  const args = command === 'template' ? ['template', 'echo', CHART, '--namespace', 'chat', '-f', file] : ['lint', '--strict', CHART, '-f', file];
  return helmRun(args);
}

describeWithHelm('helm chart: autoscaling, values schema and ci/ value sets', () => {
  useHelmWorkDir();

  describe('the HorizontalPodAutoscaler', () => {
    test('is not rendered by default, and the Deployment keeps replicaCount', () => {
      const objects = render(withSecrets);
      expect(byKind(objects, 'HorizontalPodAutoscaler')).toEqual([]);
      expect(one<IDeployment>(objects, 'Deployment').spec!.replicas).toBe(3);
    });

    test('scales the Deployment on CPU between min and max, and then the Deployment leaves `replicas` to it', () => {
      const objects = render(withSecrets, { autoscaling: { enabled: true, minReplicas: 2, maxReplicas: 7 } });
      const hpa = one<IHorizontalPodAutoscaler>(objects, 'HorizontalPodAutoscaler');
      validate(hpa);
      const deployment = one<IDeployment>(objects, 'Deployment');
      expect(hpa.spec!.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata!.name });
      expect([hpa.spec!.minReplicas, hpa.spec!.maxReplicas]).toEqual([2, 7]);
      expect(hpa.spec!.metrics).toEqual([{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }]);
      expect(deployment.spec).not.toHaveProperty('replicas');
    });

    test('adds the connected-sockets pods metric and a behavior when asked', () => {
      const objects = render(withSecrets, {
        autoscaling: { enabled: true, connectedSockets: { enabled: true, averageValue: 1500 }, behavior: { scaleDown: { stabilizationWindowSeconds: 600 } } },
      });
      const hpa = one<IHorizontalPodAutoscaler>(objects, 'HorizontalPodAutoscaler');
      validate(hpa);
      expect(hpa.spec!.metrics).toContainEqual({ type: 'Pods', pods: { metric: { name: 'echocenter_sockets_connected' }, target: { type: 'AverageValue', averageValue: '1500' } } });
      expect(hpa.spec!.behavior).toEqual({ scaleDown: { stabilizationWindowSeconds: 600 } });
    });

    test('with one replica and autoscaling, REDIS_URL is required like replicaCount > 1', () => {
      const noRedis = { replicaCount: 1, secrets: { ...SECRETS, REDIS_URL: '' }, autoscaling: { enabled: true, minReplicas: 1, maxReplicas: 4 } };
      expect(renderError(noRedis)).toMatch(/autoscaling\.maxReplicas=4 needs REDIS_URL/);
    });

    test('is refused with SQLite, like replicaCount > 1, even capped at one pod', () => {
      const sqlite = { replicaCount: 1, config: { DB_DRIVER: 'sqlite' }, secrets: { JWT_SECRET: SECRETS.JWT_SECRET, ADMIN_PASSWORD: SECRETS.ADMIN_PASSWORD, REDIS_URL: SECRETS.REDIS_URL } };
      expect(renderError(sqlite, { autoscaling: { enabled: true } })).toMatch(/autoscaling\.maxReplicas=10 needs DB_DRIVER=postgres/);
      expect(renderError(sqlite, { autoscaling: { enabled: true, minReplicas: 1, maxReplicas: 1 } })).toMatch(/autoscaling\.enabled needs DB_DRIVER=postgres/);
    });

    test('is refused without a metric, with min above max, and with a CPU target but no CPU request', () => {
      expect(renderError(withSecrets, { autoscaling: { enabled: true, targetCPUUtilizationPercentage: 0 } })).toMatch(/autoscaling\.enabled needs a metric/);
      expect(renderError(withSecrets, { autoscaling: { enabled: true, minReplicas: 5, maxReplicas: 3 } })).toMatch(/minReplicas=5 is above autoscaling\.maxReplicas=3/);
      expect(renderError(withSecrets, { autoscaling: { enabled: true }, resources: { requests: { cpu: null } } })).toMatch(/percentage of resources\.requests\.cpu/);
    });
  });

  describe('values.schema.json', () => {
    test.each([
      ['replicaCount as a word', { replicaCount: 'three' }, /\/replicaCount': got string, want integer/],
      ['autoscaling.enabled as a string', { autoscaling: { enabled: 'yes' } }, /\/autoscaling\/enabled': got string, want boolean/],
      ['ingress.enabled as a string', { ingress: { enabled: 'true' } }, /\/ingress\/enabled': got string, want boolean/],
      ['service.port as a string', { service: { port: '80' } }, /\/service\/port': got string, want integer/],
      ['a config value that is an object', { config: { LOG_LEVEL: { level: 'info' } } }, /\/config\/LOG_LEVEL/],
      ['an unknown top-level key (a typo of replicaCount)', { replicas: 5 }, /additional properties 'replicas' not allowed/],
      ['an unknown key under secrets (a typo of JWT_SECRET)', { secrets: { ...SECRETS, JWT_SECRT: 'x' } }, /\/secrets'?: additional properties 'JWT_SECRT' not allowed/],
      ['an unknown key under autoscaling', { autoscaling: { enabled: true, targetCPU: 50 } }, /additional properties 'targetCPU' not allowed/],
    ])('refuses %s before rendering anything', (_name, values, message) => {
      const stderr = renderError(withSecrets, values);
      expect(stderr).toMatch(SCHEMA_REFUSAL);
      expect(stderr).toMatch(message);
    });

    test('accepts the defaults, every documented option, and `global` from a parent chart', () => {
      expect(() => render(withSecrets, { global: { imageRegistry: 'x' } })).not.toThrow();
      expect(() => render(withSecrets, { ingress: { enabled: true, cookieAffinity: { enabled: true } }, metrics: { serviceMonitor: { enabled: true }, podAnnotations: true }, migrations: { job: { enabled: true } } })).not.toThrow();
    });
  });

  describe('chart-testing value sets in ci/', () => {
    const files = readdirSync(CI_DIR).filter((f) => f.endsWith('-values.yaml')).sort();

    test('are the two the issue asks for', () => {
      expect(files).toEqual(['postgres-redis-ha-values.yaml', 'sqlite-one-replica-values.yaml']);
    });

    test.each(files)('%s passes helm lint --strict, renders, and every object is valid', (file) => {
      const lint = withCiFile('lint', join(CI_DIR, file));
      expect({ status: lint.status, out: lint.stdout + lint.stderr }).toEqual({ status: 0, out: expect.stringContaining('0 chart(s) failed') });
      const r = withCiFile('template', join(CI_DIR, file));
      expect(r.stderr).toBe('');
      const objects = (parseYamlDocuments(r.stdout) as K8sObject[]).filter(Boolean);
      expect(objects.length).toBeGreaterThanOrEqual(5);
      for (const obj of objects) validate(obj);
    });

    test('sqlite-one-replica: one pod on SQLite, no Redis, no autoscaler', () => {
      const objects = (parseYamlDocuments(withCiFile('template', join(CI_DIR, 'sqlite-one-replica-values.yaml')).stdout) as K8sObject[]).filter(Boolean);
      const deployment = one<IDeployment>(objects, 'Deployment');
      expect(deployment.spec!.replicas).toBe(1);
      const env = deployment.spec!.template.spec!.containers[0].env ?? [];
      expect(env.map((e) => e.name)).not.toContain('REDIS_URL');
      expect(byKind(objects, 'HorizontalPodAutoscaler')).toEqual([]);
      expect(byKind<ISecret>(objects, 'Secret')[0].data).not.toHaveProperty('REDIS_URL');
    });

    test('postgres-redis-ha: three or more pods on PostgreSQL and Redis, with ingress, HPA and PDB', () => {
      const objects = (parseYamlDocuments(withCiFile('template', join(CI_DIR, 'postgres-redis-ha-values.yaml')).stdout) as K8sObject[]).filter(Boolean);
      const hpa = one<IHorizontalPodAutoscaler>(objects, 'HorizontalPodAutoscaler');
      expect(hpa.spec!.minReplicas).toBe(3);
      expect(hpa.spec!.metrics!.map((m) => m.type).sort()).toEqual(['Pods', 'Resource']);
      expect(one(objects, 'PodDisruptionBudget')).toBeDefined();
      expect(one<IIngress>(objects, 'Ingress').spec!.rules![0].host).toBe('echocenter.ct.example.com');
      const env = one<IDeployment>(objects, 'Deployment').spec!.template.spec!.containers[0].env ?? [];
      expect(env.map((e) => e.name)).toEqual(expect.arrayContaining(['DATABASE_URL', 'REDIS_URL']));
      expect(one<{ data: Record<string, string> } & K8sObject>(objects, 'ConfigMap').data.DB_DRIVER).toBe('postgres');
    });
  });
});

interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
}

/** The paths of values.yaml that the schema does not describe (where it closes an object). */
function undescribed(value: unknown, schema: Schema, at: string): string[] {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return [];
  return Object.entries(value).flatMap(([key, v]) => {
    const sub = schema.properties?.[key] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
    if (sub) return undescribed(v, sub, `${at}.${key}`);
    return schema.additionalProperties === false ? [`${at}.${key}`] : [];
  });
}

describe('values.schema.json and values.yaml', () => {
  test('describe the same keys: a new value needs its schema entry (helm refuses unknown keys)', () => {
    const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as Schema;
    const [values] = parseYamlDocuments(readFileSync(join(CHART, 'values.yaml'), 'utf8'));
    expect(undescribed(values, schema, 'values')).toEqual([]);
    expect(Object.keys(schema.properties!).filter((k) => k !== 'global' && !(k in (values as object)))).toEqual([]);
  });
});
