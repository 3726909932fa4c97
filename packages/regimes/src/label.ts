// `regime label`: the three labelling tasks of SPEC B4 on daily bars.
import type { BarSet } from '@regime/data';
import type { FeatureTable, Splits } from '@regime/features';
import { observationTable } from './observations.js';
import { crossTask, decodeHmmTask, fitHmmTask, type TaskLabels } from './hmm-task.js';

export type TaskName = 'vol' | 'trend' | 'cross';
export const TASKS: TaskName[] = ['vol', 'trend', 'cross'];

export const VOL_NAMES_4 = ['low', 'normal', 'high', 'spike'];
export const VOL_NAMES_3 = ['low', 'normal', 'high'];
export const TREND_NAMES = ['strong_bear', 'weak_bear', 'neutral', 'weak_bull', 'strong_bull'];

export interface LabelOptions {
  tasks?: TaskName[];
  splits: Splits;
  seed: number;
  onProgress?: (task: string, iteration: number, loglik: number) => void;
}

export interface LabelResult {
  observations: FeatureTable;
  tasks: TaskLabels[];
}

export async function labelAll(bars: BarSet, o: LabelOptions): Promise<LabelResult> {
  const obs = await observationTable(bars);
  const out: TaskLabels[] = [];
  for (const task of o.tasks ?? TASKS) {
    if (task === 'cross') {
      out.push(crossTask(obs, o.splits));
      continue;
    }
    const progress = o.onProgress ? (i: number, ll: number) => o.onProgress!(task, i, ll) : undefined;
    if (task === 'vol') {
      const columns = ['ln_realized_vol_20d', 'ln_HAR_weekly'];
      let m = await fitHmmTask(obs, o.splits, { task, columns, names: VOL_NAMES_4, orderBy: 0, seed: o.seed }, progress);
      const notes: string[] = [];
      // SPEC B4: the spike state must average above 100% annualised vol, else K = 3.
      const topVol = Math.exp(m.hmm.means[(m.hmm.nStates - 1) * m.hmm.nFeatures]!);
      if (!(topVol > 1)) {
        notes.push(`K = 3: no state of the K = 4 fit averages above 100% annualised vol (highest state mean ${(100 * topVol).toFixed(1)}%), so 'spike' is merged away`);
        m = await fitHmmTask(obs, o.splits, { task, columns, names: VOL_NAMES_3, orderBy: 0, seed: o.seed }, progress);
      } else {
        notes.push(`spike state mean ${(100 * topVol).toFixed(1)}% annualised (> 100%)`);
      }
      out.push(decodeHmmTask(obs, o.splits, task, m, notes));
    } else {
      const columns = ['momentum_30d', 'momentum_30d_norm'];
      const m = await fitHmmTask(obs, o.splits, { task, columns, names: TREND_NAMES, orderBy: 0, seed: o.seed }, progress);
      out.push(decodeHmmTask(obs, o.splits, task, m));
    }
  }
  return { observations: obs, tasks: out };
}
