/**
 * Label selectors as the apiserver parses them (k8s.io/apimachinery/pkg/labels): comma-separated
 * requirements, all of which must hold: `k`, `!k`, `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`,
 * `k>n`, `k<n`. `!=` and `notin` also match objects without the label. A selector that does not parse is
 * 400 BadRequest, as from the real server.
 */
import { ApiError } from '../kube/errors.ts';

export type LabelMatcher = (labels: Readonly<Record<string, string>> | undefined) => boolean;

const KEY = String.raw`(?:[A-Za-z0-9][-A-Za-z0-9.]*/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?`;
const VALUE = String.raw`(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?`;
const EXISTS = new RegExp(`^(${KEY})$`);
const NOT_EXISTS = new RegExp(String.raw`^!\s*(${KEY})$`);
const EQUALITY = new RegExp(String.raw`^(${KEY})\s*(==|=|!=)\s*(${VALUE})$`);
const SET = new RegExp(String.raw`^(${KEY})\s+(in|notin)\s*\(([^()]*)\)$`);
const NUMERIC = new RegExp(String.raw`^(${KEY})\s*(<|>)\s*(-?\d+)$`);
const SET_VALUE = new RegExp(`^${VALUE}$`);

/** The matcher of `selector`; an empty selector matches everything. */
export function parseSelector(selector: string | undefined): LabelMatcher {
  const requirements = splitTerms(selector ?? '').map(requirement);
  return (labels) => requirements.every((r) => r(labels ?? {}));
}

type Requirement = (labels: Readonly<Record<string, string>>) => boolean;

function requirement(term: string): Requirement {
  let m: RegExpExecArray | null;
  if ((m = EXISTS.exec(term))) {
    const key = m[1] as string;
    return (l) => key in l;
  }
  if ((m = NOT_EXISTS.exec(term))) {
    const key = m[1] as string;
    return (l) => !(key in l);
  }
  if ((m = EQUALITY.exec(term))) {
    const [, key = '', op, value] = m;
    return op === '!=' ? (l) => l[key] !== value : (l) => l[key] === value;
  }
  if ((m = SET.exec(term))) {
    const [, key = '', op, list = ''] = m;
    const values = list.split(',').map((v) => v.trim());
    if (values.some((v) => !SET_VALUE.test(v))) throw unparsable(term);
    return op === 'in'
      ? (l) => l[key] !== undefined && values.includes(l[key])
      : (l) => l[key] === undefined || !values.includes(l[key]);
  }
  if ((m = NUMERIC.exec(term))) {
    const [, key = '', op, bound] = m;
    return (l) => {
      const v = Number(l[key]);
      return (
        l[key] !== undefined && Number.isInteger(v) && (op === '<' ? v < Number(bound) : v > Number(bound))
      );
    };
  }
  throw unparsable(term);
}

/** Splits on the commas that separate requirements (not those inside an `in (...)` list). */
function splitTerms(selector: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      terms.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(selector.slice(start));
  const trimmed = terms.map((t) => t.trim());
  if (trimmed.length === 1 && trimmed[0] === '') return [];
  return trimmed.map((t) => {
    if (t === '') throw unparsable(selector);
    return t;
  });
}

function unparsable(term: string): ApiError {
  return new ApiError(400, 'BadRequest', `unable to parse requirement: ${JSON.stringify(term)}`);
}
