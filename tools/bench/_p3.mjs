import * as engine from '@regime/engine';
const m = await engine.synthMarket({ nAssets: 13, nDays: 593, baseIntervalMs: 60000, seed: 42, listingDay: Array(13).fill(0) });
engine.setThreads(1);
const H=3600000;
for (let r=0;r<4;r++){
 let t=performance.now(); await engine.resample(m.assets, H); const a=(performance.now()-t)/1000;
 t=performance.now(); for (const g of m.assets) engine.reframeSync(g, g.start, g.start); const b=(performance.now()-t)/1000;
 t=performance.now(); for (const g of m.assets) engine.resampleSync(g, H); const c=(performance.now()-t)/1000;
 console.log('resample', a.toFixed(3), 'copyin', b.toFixed(3), 'resampleSync', c.toFixed(3));
}
