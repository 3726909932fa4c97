import * as engine from '@regime/engine';
const m = await engine.synthMarket({ nAssets: 13, nDays: 593, baseIntervalMs: 60000, seed: 42, listingDay: Array(13).fill(0) });
engine.setThreads(1);
const H=3600000; const v = process.argv[2];
const ru0 = process.resourceUsage();
for (let r=0;r<4;r++){
 let t=performance.now();
 if (v==='many') await engine.resample(m.assets, H);
 else if (v==='sync') for (const g of m.assets) engine.resampleSync(g, H);
 else if (v==='one') for (const g of m.assets) await engine.resample([g], H);
 else if (v==='copy') for (const g of m.assets) engine.reframeSync(g, g.start, g.start);
 console.log(v, ((performance.now()-t)/1000).toFixed(3));
}
const ru = process.resourceUsage();
console.log('minflt', ru.minorPageFault - ru0.minorPageFault, 'user', (ru.userCPUTime-ru0.userCPUTime)/1e6, 'sys', (ru.systemCPUTime-ru0.systemCPUTime)/1e6);
