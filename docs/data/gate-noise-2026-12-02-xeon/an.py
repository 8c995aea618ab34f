import json, sys, numpy as np
rows=[json.loads(l) for l in open(sys.argv[1])]
for mode in ['fixed','pad','model']:
    R=[r for r in rows if r['mode']==mode]
    if not R: continue
    meds=[np.median(r['t'][2:]) for r in R]
    within=[np.std(np.log(r['t'][2:])) for r in R]
    lm=np.log(meds); 
    # bootstrap CI of between sd
    rng=np.random.default_rng(0); bs=[np.std(rng.choice(lm,len(lm)),ddof=1) for _ in range(2000)]
    print(mode, 'medians ms', ' '.join('%.1f'%(1e3*m) for m in meds), '| between sd %.2f%% [%.2f, %.2f] | within sd %.2f%% | se from within %.2f%%'%(100*np.std(lm,ddof=1), 100*np.quantile(bs,.05),100*np.quantile(bs,.95),100*np.mean(within), 100*np.mean(within)/np.sqrt(28)*1.25))
