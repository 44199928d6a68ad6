# Layout check of cuda/src/gemm_mma.cu without a GPU: simulates one block and one k-tile of gemm_mma_nt (cp.async
# placement with the XOR swizzle, ldmatrix addressing, mma.m16n8k16 fragment semantics from the PTX ISA, epilogue
# indices) and compares with A . B^T; also checks that ldmatrix phases and cp.async waves hit 8 distinct bank groups.
#   python3 cuda/dev/gemm_mma_layout.py   (needs numpy)
import numpy as np
BM=BN=128; BK=32
def swz(r,c): return r*64 + ((c ^ ((r>>1)&3))<<4)
rng=np.random.default_rng(0)
A=rng.integers(-8,8,(BM,BK)).astype(np.float64); B=rng.integers(-8,8,(BN,BK)).astype(np.float64)
def store(M):
    sm=np.full(BM*BK, np.nan)  # in halves
    for tid in range(256):
        r=tid>>2; c=tid&3
        for i in range(2):
            off=swz(r,c)+i*64*64
            sm[off//2:off//2+8]=M[r+64*i, c*8:c*8+8]
    assert not np.isnan(sm).any()
    return sm
sa=store(A); sb=store(B)
def ldmatrix_x4(sm, addrs):  # addrs[lane] byte address; returns regs[lane][j] = (lo, hi)
    mats=[[sm[addrs[8*j+i]//2: addrs[8*j+i]//2+8] for i in range(8)] for j in range(4)]
    return [[(mats[j][l//4][2*(l%4)], mats[j][l//4][2*(l%4)+1]) for j in range(4)] for l in range(32)]
def mma(d, a, b):  # d[lane][4], a[lane][4 regs of pairs], b[lane][2 regs]
    Am=np.zeros((16,16)); Bm=np.zeros((16,8))
    for l in range(32):
        g=l>>2; t=l&3
        for j,(row,col) in enumerate([(g,2*t),(g+8,2*t),(g,2*t+8),(g+8,2*t+8)]):
            Am[row,col],Am[row,col+1]=a[l][j]
        for j,k in enumerate([2*t,2*t+8]):
            Bm[k,g],Bm[k+1,g]=b[l][j]
    D=Am@Bm
    for l in range(32):
        g=l>>2; t=l&3
        d[l][0]+=D[g,2*t]; d[l][1]+=D[g,2*t+1]; d[l][2]+=D[g+8,2*t]; d[l][3]+=D[g+8,2*t+1]
C=np.full((BM,BN),np.nan)
for warp in range(8):
    wm=warp>>2; wn=warp&3
    acc=[[[[0.0]*4 for l in range(32)] for ni in range(4)] for mi in range(4)]
    for kk in range(2):
        af=[]
        for mi in range(4):
            addrs=[swz(wm*64+mi*16+(l&15), kk*2+(l>>4)) for l in range(32)]
            af.append(ldmatrix_x4(sa,addrs))
        for nj in range(2):
            addrs=[swz(wn*32+nj*16+(l&7)+((l>>4)<<3), kk*2+((l>>3)&1)) for l in range(32)]
            r=ldmatrix_x4(sb,addrs)
            b0=[[r[l][0],r[l][1]] for l in range(32)]; b1=[[r[l][2],r[l][3]] for l in range(32)]
            for mi in range(4):
                mma(acc[mi][2*nj], af[mi], b0); mma(acc[mi][2*nj+1], af[mi], b1)
    for mi in range(4):
        for half in range(2):
            for ni in range(4):
                for e in range(2):
                    for l in range(32):
                        g=l>>2;t=l&3
                        C[wm*64+mi*16+g+half*8, wn*32+ni*8+2*t+e]=acc[mi][ni][l][half*2+e]
assert not np.isnan(C).any()
print("max err", np.abs(C-A@B.T).max())
# bank conflicts: each ldmatrix phase (8 lanes) should touch 8 distinct 16-byte bank groups
for rowfn in [lambda l,mi,kk: (mi*16+(l&15), kk*2+(l>>4)), lambda l,nj,kk:(nj*16+(l&7)+((l>>4)<<3), kk*2+((l>>3)&1))]:
    for x in range(4):
        for kk in range(2):
            for j in range(4):
                groups={ (swz(*rowfn(8*j+i,x%2 if False else x,kk))//16)%8 for i in range(8)}
                assert len(groups)==8, groups
print("ldmatrix phases conflict-free")
for w in range(8):  # cp.async: a warp's 32 x 16 B stores in 4 phases of 8 lanes
    for ph in range(4):
        groups={(swz((32*w+8*ph+i)>>2,(32*w+8*ph+i)&3)//16)%8 for i in range(8)}
        assert len(groups)==8
print("cp.async stores conflict-free")
