import json, sys, numpy as np
rows=[json.loads(l) for l in open(sys.argv[1])]
par={}
for r in rows: par.setdefault(r['parent'],[]).append(np.log(np.median(r['t'][2:])))
for p,v in par.items(): print(p, ' '.join('%.1f'%(1e3*np.exp(x)) for x in v))
within_parent=np.mean([np.var(v,ddof=1) for v in par.values()])
parent_means=np.array([np.mean(v) for v in par.values()])
k=len(next(iter(par.values())))
print('children within a parent sd %.2f%%; sd of parent means %.2f%% (from children alone %.2f%%)'%(100*np.sqrt(within_parent),100*parent_means.std(ddof=1),100*np.sqrt(within_parent/k)))
