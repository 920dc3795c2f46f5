/**
 * A small, typed builder for the structural OpenAPI v3 schemas of CustomResourceDefinitions.
 *
 * Every builder returns a {@link Typed} schema: a plain JSON-schema object that also carries, at the
 * type level only, the TypeScript type of the values it describes. {@link objectOf} then checks at
 * compile time that a schema and its interface agree:
 *
 * - `properties` has exactly the keys of the interface (no missing key, no extra key);
 * - each property's schema describes that property's TypeScript type (an enum of the right union, an
 *   object of the right interface, ...);
 * - a property the interface declares non-optional is either listed in `required` or has a `default`
 *   (the API server fills it, so readers may rely on it); an optional property has no default and is
 *   not required.
 *
 * Nothing here knows about Kubernetes objects; see `v1alpha1/common.ts` for the CRD-level helpers.
 */

/** A CEL validation rule (`x-kubernetes-validations` item), see apiextensions.k8s.io/v1 ValidationRule. */
export interface ValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
  fieldPath?: string;
  optionalOldSelf?: boolean;
}

/** The subset of apiextensions.k8s.io/v1 JSONSchemaProps that Palisade's CRDs use. */
export interface JSONSchemaProps {
  description?: string;
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  format?: string;
  enum?: readonly (string | number)[];
  default?: unknown;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  properties?: Record<string, JSONSchemaProps>;
  required?: string[];
  additionalProperties?: JSONSchemaProps;
  items?: JSONSchemaProps;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-validations'?: ValidationRule[];
}

declare const describes: unique symbol;

/** A schema that describes values of type `T` (a phantom, compile-time-only tag; invariant in `T`). */
export type Typed<T> = JSONSchemaProps & { readonly [describes]?: (value: T) => T };

/** A typed schema without a default: the value may be absent. */
export type NoDefault<T> = Typed<T> & { default?: undefined };

/** `{ default: unknown }` when the options carry a default, so that {@link objectOf} can see it. */
type DefaultOf<O> = 'default' extends keyof O ? { default: unknown } : { default?: undefined };

type OptionalKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? K : never }[keyof T];
type NonOptionalKeys<T> = Exclude<keyof T, OptionalKeys<T>>;

/** The `properties` of an object schema for `T`: one typed schema per key, defaults where needed. */
export type PropertySchemas<T, R extends keyof T> = {
  [K in keyof T]-?: Typed<NonNullable<T[K]>> &
    (K extends R ? unknown : K extends OptionalKeys<T> ? { default?: undefined } : { default: unknown });
};

interface Common<T> {
  description: string;
  default?: T;
  rules?: ValidationRule[];
}

/** Builds a schema with its keys in one fixed order, leaving out the unset ones (deterministic YAML). */
function schema(props: JSONSchemaProps, rules: ValidationRule[] | undefined): JSONSchemaProps {
  const ordered: Record<string, unknown> = {};
  const all: Record<string, unknown> = {
    ...props,
    'x-kubernetes-validations': rules?.length ? rules : undefined,
  };
  for (const key of KEY_ORDER) {
    if (all[key] !== undefined) ordered[key] = all[key];
  }
  return ordered as JSONSchemaProps;
}

const KEY_ORDER: readonly (keyof JSONSchemaProps)[] = [
  'description',
  'type',
  'format',
  'enum',
  'default',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'minItems',
  'maxItems',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-validations',
];

export interface StringOptions extends Common<string> {
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  format?: string;
}

/** A string. Give strings that CEL rules read a `maxLength`: the API server bounds rule cost by it. */
export function str<O extends StringOptions>(o: O): Typed<string> & DefaultOf<O> {
  const { description, rules, ...rest } = o;
  return schema({ description, type: 'string', ...rest }, rules) as Typed<string> & DefaultOf<O>;
}

/** An RFC 3339 timestamp, as written by the controller into status. */
export function dateTime(description: string): NoDefault<string> {
  return schema({ description, type: 'string', format: 'date-time' }, undefined) as NoDefault<string>;
}

export interface IntegerOptions extends Common<number> {
  format?: 'int32' | 'int64';
  minimum?: number;
  maximum?: number;
}

/** An integer, `int64` unless told otherwise. */
export function int<O extends IntegerOptions>(o: O): Typed<number> & DefaultOf<O> {
  const { description, rules, format = 'int64', ...rest } = o;
  return schema({ description, type: 'integer', format, ...rest }, rules) as Typed<number> & DefaultOf<O>;
}

export function bool<O extends Common<boolean>>(o: O): Typed<boolean> & DefaultOf<O> {
  const { description, rules, ...rest } = o;
  return schema({ description, type: 'boolean', ...rest }, rules) as Typed<boolean> & DefaultOf<O>;
}

/** A string restricted to `values`; its TypeScript type is their union. */
export function oneOf<const V extends readonly string[], O extends Common<V[number]>>(
  values: V,
  o: O,
): Typed<V[number]> & DefaultOf<O> {
  const { description, rules, ...rest } = o;
  return schema({ description, type: 'string', enum: values, ...rest }, rules) as Typed<V[number]> &
    DefaultOf<O>;
}

export interface ArrayOptions extends Common<never[]> {
  minItems?: number;
  maxItems?: number;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
}

export function arrayOf<E, O extends ArrayOptions>(items: Typed<E>, o: O): Typed<E[]> & DefaultOf<O> {
  const { description, rules, ...rest } = o;
  return schema({ description, type: 'array', ...rest, items }, rules) as Typed<E[]> & DefaultOf<O>;
}

/** A map with free-form string keys (`additionalProperties`). */
export function mapOf<V>(values: Typed<V>, description: string): NoDefault<Record<string, V>> {
  return schema({ description, type: 'object', additionalProperties: values }, undefined) as NoDefault<
    Record<string, V>
  >;
}

export interface ObjectOptions<T, R extends NonOptionalKeys<T>> extends Common<Record<string, never>> {
  properties: PropertySchemas<T, R>;
  required?: readonly R[];
}

/**
 * An object schema for the interface `T`; see the module comment for what the compiler checks.
 * Curried so that `T` is given and `R` (the required keys) inferred: `objectOf<TenantSpec>()({...})`.
 */
export function objectOf<T>() {
  return <const R extends NonOptionalKeys<T> = never, O extends ObjectOptions<T, R> = ObjectOptions<T, R>>(
    o: O & ObjectOptions<T, R> & { properties: Record<Exclude<keyof O['properties'], keyof T>, never> },
  ): Typed<T> & DefaultOf<O> => {
    const { description, rules, properties, required, ...rest } = o;
    return schema(
      {
        description,
        type: 'object',
        ...rest,
        properties: properties as Record<string, JSONSchemaProps>,
        required: required?.length ? (required as readonly PropertyKey[]).map(String) : undefined,
      },
      rules,
    ) as Typed<T> & DefaultOf<O>;
  };
}
