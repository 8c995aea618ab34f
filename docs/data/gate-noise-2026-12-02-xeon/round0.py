import json,glob,sys,numpy as np
fs=sys.argv[1:]
r0={};rest={}
for f in fs:
  d=json.load(open(f))
  line=[f.split('/')[-1]]
  for m in ['gd','minibatch','sgd']:
    k='gate.Gate.time_train(%s)'%m
    v=np.array([r['pairs'][k][2] for r in d['rounds']])
    r0.setdefault(m,[]).append(v[0]); rest.setdefault(m,[]).extend(v[1:])
    line.append('%s r0 %+.1f rest mean %+.2f sd %.2f'%(m,100*v[0],100*v[1:].mean(),100*v[1:].std(ddof=1)))
  print(' | '.join(line))
for m in r0:
  a=np.array(r0[m]);b=np.array(rest[m])
  mad=1.4826*np.median(np.abs(b-np.median(b)))
  print('%-9s round0: mean %+.2f%% sd %.2f%%  |  rounds 1+: sd %.2f%% (MAD %.2f%%), n %d'%(m,100*a.mean(),100*a.std(ddof=1),100*b.std(ddof=1),100*mad,len(b)))
