import json,sys,numpy as np
mad=lambda x: 1.4826*np.median(np.abs(x-np.median(x)))
for f in sys.argv[1:]:
    d=json.load(open(f))
    secs=[r['seconds'] for r in d['rounds']]
    print(f.split('/')[-1], 'rounds',len(secs),'round s med %.1f'%np.median(secs[1:]))
    for m in ['gd','minibatch','sgd']:
        k='gate.Gate.time_train(%s)'%m
        B=[];H=[];hl=[]
        for r in d['rounds']:
            s=r['samples'].get(k)
            if not s: continue
            b,h=np.log(s[0]),np.log(s[1]); B.append(b);H.append(h)
            lr=h-b; w=(lr[:,None]+lr[None,:])/2; iu=np.triu_indices(len(lr)); hl.append(np.median(w[iu]))
        B=np.array(B);H=np.array(H);lr=H-B;hl=np.array(hl)
        bc=B-B.mean(1,keepdims=True); hc=H-H.mean(1,keepdims=True)
        corr=np.corrcoef(bc.ravel(),hc.ravel())[0,1]
        lc=(lr-lr.mean(1,keepdims=True)).ravel()
        print('  %-9s side sd %.1f%% mad %.1f%% | pair sd %.1f%% mad %.1f%% | corr %.2f | round-HL sd %.2f%% mean %.2f%% | min %.1f med %.1f ms'%(m,100*bc.std(),100*mad(bc.ravel()),100*lc.std(),100*mad(lc),corr,100*hl.std(ddof=1),100*hl.mean(),1000*np.exp(B.min()),1000*np.exp(np.median(B))))
