/**
 * Pieces shared by the four kinds of palisade.dev/v1alpha1: API group and version, the object and
 * condition shapes, the patterns used in validation, and the builder that turns a kind's spec and
 * status schemas into a CustomResourceDefinition.
 */
import { arrayOf, dateTime, int, objectOf, oneOf, str } from '../schema/schema.ts';
import type { JSONSchemaProps, NoDefault, Typed, ValidationRule } from '../schema/schema.ts';

export const GROUP = 'palisade.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
/** The category every Palisade kind belongs to: `kubectl get palisade` lists them all. */
export const CATEGORY = 'palisade';
/** Label on a tenant's namespace naming its Tenant; namespaced kinds find their tenant through it. */
export const TENANT_LABEL = `${GROUP}/tenant`;

/**
 * A Go `time.ParseDuration` string without sign, e.g. `90s`, `1h30m`, `336h`. CEL's `duration()` parses
 * the same syntax, so rules can compare durations. (Days are not a unit: write `720h`.)
 */
export const DURATION_PATTERN = '^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$';
/** An RFC 1123 DNS label: lowercase alphanumerics and `-`, starting and ending alphanumeric. */
export const DNS_LABEL_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
/** An RFC 1123 DNS subdomain (Kubernetes object names): dot-separated DNS labels. */
export const DNS_SUBDOMAIN_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
/** Tenant UIDs: 12 lowercase hex characters (48 random bits). */
export const TENANT_UID_PATTERN = '^[0-9a-f]{12}$';
/** A DNS name for a certificate: a DNS subdomain, optionally with one leading `*.` wildcard label. */
export const CERT_DNS_NAME_PATTERN =
  '^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

/**
 * The metadata fields Palisade reads and writes; timestamps are RFC 3339 strings as on the wire.
 * `name` is required: Palisade does not use generateName, and objects read from the server have one.
 */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** metav1.Condition. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export const CONDITION_STATUSES = ['True', 'False', 'Unknown'] as const;

/** metav1.Condition, as controller-gen renders it for `[]metav1.Condition`. */
const conditionSchema = objectOf<Condition>()({
  description: 'A metav1.Condition: one aspect of the current state of this object.',
  properties: {
    type: str({
      description: 'Type of the condition in CamelCase, e.g. Ready.',
      maxLength: 316,
      pattern:
        '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
    }),
    status: oneOf(CONDITION_STATUSES, { description: 'Status of the condition: True, False or Unknown.' }),
    observedGeneration: int({
      description: 'The .metadata.generation the condition was set for.',
      minimum: 0,
    }),
    lastTransitionTime: dateTime('When the condition last changed from one status to another.'),
    reason: str({
      description: 'A CamelCase, machine-readable reason for the last transition.',
      minLength: 1,
      maxLength: 1024,
      pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
    }),
    message: str({ description: 'A human-readable message about the transition.', maxLength: 32768 }),
  },
  required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
});

/** `status.conditions`: a list map keyed by `type`, so server-side apply merges conditions by type. */
export function conditionsSchema(): NoDefault<Condition[]> {
  return arrayOf(conditionSchema, {
    description: 'The current state of this object. Ready summarizes all the others.',
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['type'],
  });
}

export function observedGenerationSchema(): NoDefault<number> {
  return int({ description: 'The .metadata.generation the status was last computed for.', minimum: 0 });
}

/** The longest duration any field accepts: ten years. */
export const MAX_DURATION = '87600h';
/**
 * {@link DURATION_PATTERN} with each number bounded by its unit: at most 5 digits of hours, 7 of minutes, 9
 * of seconds, 12 of ms, 15 of us, 18 of ns. Within a duration field's maxLength (32) such a value stays
 * below a million hours, far from the ~292 years (2562047h) where a Go — and so a CEL — duration
 * overflows. NB: `duration()` on an overflowing string fails the whole rule with "type conversion error
 * from 'string' to 'google.protobuf.Duration'", CEL's internals instead of a message.
 */
export const BOUNDED_DURATION_PATTERN =
  '^([0-9]{1,5}(\\.[0-9]+)?h|[0-9]{1,7}(\\.[0-9]+)?m|[0-9]{1,9}(\\.[0-9]+)?s|' +
  '[0-9]{1,12}(\\.[0-9]+)?ms|[0-9]{1,15}(\\.[0-9]+)?us|[0-9]{1,18}(\\.[0-9]+)?ns)+$';

/**
 * A CEL condition true when the string `expr` is a well-formed duration that `duration()` can convert.
 * Rules guard `duration()` with it: a malformed value then fails only the pattern, and an enormous one only
 * the range rule of {@link durationSchema}, each with one clear message, never a conversion error.
 */
export function celIsDuration(expr: string): string {
  return `${expr}.matches(r'${BOUNDED_DURATION_PATTERN}')`;
}

/**
 * A duration string, at most {@link MAX_DURATION}; `min` adds a CEL rule with a human message. Every value
 * that matches the pattern gets exactly one range message when it is too long, however many digits it has.
 */
export function durationSchema<D extends string | undefined = undefined>(o: {
  description: string;
  default?: D;
  min?: string;
}): Typed<string> & (D extends string ? { default: D } : { default?: undefined }) {
  const rules: ValidationRule[] = [
    {
      // NB: `&&` in CEL absorbs the error of one side when the other is false: duration() never sees a
      // value the bounded pattern refused.
      rule:
        `!self.matches(r'${DURATION_PATTERN}') || ` +
        `(${celIsDuration('self')} && duration(self) <= duration('${MAX_DURATION}'))`,
      messageExpression: `'must be at most ${MAX_DURATION} (10 years), got ' + self`,
    },
  ];
  if (o.min !== undefined) {
    rules.push({
      rule: `!${celIsDuration('self')} || duration(self) >= duration('${o.min}')`,
      messageExpression: `'must be at least ${o.min}, got ' + self`,
    });
  }
  const s = str({
    description: o.description,
    pattern: DURATION_PATTERN,
    maxLength: 32,
    ...(o.default === undefined ? {} : { default: o.default }),
    rules,
  });
  return s as Typed<string> & (D extends string ? { default: D } : { default?: undefined });
}

/** A reference to an object by name (in the same namespace, unless said otherwise). */
export function objectNameSchema(description: string): NoDefault<string> {
  return str({ description, minLength: 1, maxLength: 253, pattern: DNS_SUBDOMAIN_PATTERN });
}

/** A rule that makes a field immutable once set (put it on the field; pair with a parent rule if needed). */
export function immutableRule(field: string): ValidationRule {
  return { rule: 'self == oldSelf', message: `${field} is immutable`, reason: 'FieldValueForbidden' };
}

/** A printer column of a CRD version (`additionalPrinterColumns`). */
export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
  format?: string;
}

export const READY_COLUMN: PrinterColumn = {
  name: 'Ready',
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Ready")].status',
  description: 'Status of the Ready condition.',
};
export const REASON_COLUMN: PrinterColumn = {
  name: 'Reason',
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
  description: 'Reason of the Ready condition.',
};
export const AGE_COLUMN: PrinterColumn = {
  name: 'Age',
  type: 'date',
  jsonPath: '.metadata.creationTimestamp',
};

/** apiextensions.k8s.io/v1 CustomResourceDefinition, as far as Palisade fills it in. */
export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    group: string;
    names: {
      kind: string;
      listKind: string;
      plural: string;
      singular: string;
      shortNames: string[];
      categories: string[];
    };
    scope: 'Cluster' | 'Namespaced';
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources: { status: Record<string, never> };
      additionalPrinterColumns: PrinterColumn[];
      schema: { openAPIV3Schema: JSONSchemaProps };
    }[];
  };
}

/** What identifies a kind's resource: enough for a client to build its URL. */
export interface ResourceInfo<K extends string = string> {
  group: typeof GROUP;
  version: typeof VERSION;
  kind: K;
  plural: string;
  scope: 'Cluster' | 'Namespaced';
}

/**
 * NB: declaring name and generateName with a maxLength (names are at most 253 characters anyway) is what
 * lets the API server bound the cost of root rules reading `self.metadata.name`; undeclared, it assumes
 * a name as large as a whole request and rejects the CRD. Structural schemas allow only these two here.
 */
const OBJECT_META_SCHEMA: JSONSchemaProps = {
  type: 'object',
  properties: {
    name: { type: 'string', maxLength: 253 },
    generateName: { type: 'string', maxLength: 253 },
  },
};

export interface CRDOptions<T extends { spec: unknown; status?: unknown }> {
  resource: ResourceInfo;
  shortNames: string[];
  description: string;
  /** The spec schema. `spec` is required unless the schema has a `default` (usually `{}`). */
  spec: Typed<T['spec']>;
  status: Typed<NonNullable<T['status']>>;
  printerColumns: PrinterColumn[];
  /** Rules on the whole object; only these can see `self.metadata.name`. */
  rules?: ValidationRule[];
}

/** Builds the CRD of one kind from its typed spec and status schemas. */
export function customResourceDefinition<T extends { spec: unknown; status?: unknown }>(
  o: CRDOptions<T>,
): CustomResourceDefinition {
  const { group, version, kind, plural, scope } = o.resource;
  const root: JSONSchemaProps = {
    description: o.description,
    type: 'object',
    properties: {
      apiVersion: {
        description: 'APIVersion defines the versioned schema of this representation of an object.',
        type: 'string',
      },
      kind: { description: 'Kind is a string value representing the REST resource.', type: 'string' },
      metadata: OBJECT_META_SCHEMA,
      spec: o.spec,
      status: o.status,
    },
    ...(o.spec.default === undefined ? { required: ['spec'] } : {}),
    ...(o.rules?.length ? { 'x-kubernetes-validations': o.rules } : {}),
  };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}`, labels: { 'app.kubernetes.io/part-of': 'palisade' } },
    spec: {
      group,
      names: {
        kind,
        listKind: `${kind}List`,
        plural,
        singular: kind.toLowerCase(),
        shortNames: o.shortNames,
        categories: [CATEGORY],
      },
      scope,
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: o.printerColumns,
          schema: { openAPIV3Schema: root },
        },
      ],
    },
  };
}
