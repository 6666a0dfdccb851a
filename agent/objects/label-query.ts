// kubectl's -l/--selector syntax: `app=web,tier!=db,env in (a,b),env notin (c),has-key,!no-key`,
// parsed into a LabelSelector (matchLabels for =, matchExpressions for the rest).

import type { LabelSelector, LabelSelectorRequirement } from './types.ts';
import { selectorMatches } from './validate-rules.ts';

export class SelectorSyntaxError extends Error {}

export function parseLabelQuery(text: string): LabelSelector {
  const matchLabels: Record<string, string> = {};
  const matchExpressions: LabelSelectorRequirement[] = [];
  for (const raw of splitTerms(text)) {
    const term = raw.trim();
    if (term === '') continue;
    const set = /^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    const eq = /^([^\s!=]+)\s*(==|=|!=)\s*([^\s,]*)$/.exec(term);
    if (set) {
      const values = set[3]!
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v !== '');
      matchExpressions.push({ key: set[1]!, operator: set[2] === 'in' ? 'In' : 'NotIn', values });
    } else if (eq) {
      if (eq[2] === '!=') matchExpressions.push({ key: eq[1]!, operator: 'NotIn', values: [eq[3]!] });
      else matchLabels[eq[1]!] = eq[3]!;
    } else if (/^![^\s!=()]+$/.test(term)) {
      matchExpressions.push({ key: term.slice(1), operator: 'DoesNotExist' });
    } else if (/^[^\s!=()]+$/.test(term)) {
      matchExpressions.push({ key: term, operator: 'Exists' });
    } else {
      throw new SelectorSyntaxError(`unable to parse requirement "${term}" of selector "${text}"`);
    }
  }
  return { matchLabels, matchExpressions };
}

export function labelsMatch(text: string | undefined, labels: Record<string, string> | undefined): boolean {
  return text === undefined || text === '' || selectorMatches(parseLabelQuery(text), labels ?? {});
}

/** Split on commas outside parentheses. */
function splitTerms(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}
