// `regime features --list`: every definition with its group, kernel, inputs and formula.
import type { FeatureDef } from './definitions.js';

export function describeDef(d: FeatureDef): string {
  const params = (['input', 'other', 'stat', 'window', 'n', 'short', 'long', 'ddof', 'alpha', 'transform', 'scale', 'log', 'reference', 'dist'] as const)
    .filter((k) => d[k] !== undefined)
    .map((k) => `${k}=${typeof d[k] === 'number' ? Number((d[k] as number).toPrecision(6)) : d[k]}`)
    .join(' ');
  return `${d.name}${d.output === false ? ' (intermediate)' : ''} [${d.group}] ${d.kernel}(${params})\n    ${d.formula}`;
}

export function listSet(name: string, interval: string, description: string, defs: FeatureDef[]): string {
  return [`${name} (${interval}): ${description}`, ...defs.map((d) => `  ${describeDef(d)}`)].join('\n');
}
