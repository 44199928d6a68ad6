"""Builds an emulator kernel header from the real text of a SIMT kernel file (cuda/src/attention_backward.cu,
cuda/src/train.cu): its first anonymous namespace (the kernels and their device helpers), verbatim, except that
dynamic shared memory comes from the emulator's arena. The host-side launch code follows that namespace and is left
out (g++ cannot parse <<<...>>>).
    python3 extract_simt.py SRC.cu OUT.h
"""
import sys

src, out_path = sys.argv[1], sys.argv[2]
s = open(src).read()
a = s.index('namespace {\n')
b = s.index('}  // namespace\n', a) + len('}  // namespace\n')
body = s[a:b]
assert '<<<' not in body, 'host launch code inside the extracted namespace'
for decl in ('extern __shared__ __align__(16) unsigned char smem[];', 'extern __shared__ float acc[];'):
    name = decl.split()[-1].split('[')[0]
    typ = 'unsigned char' if 'unsigned char' in decl else 'float'
    body = body.replace(decl, f'{typ}* {name} = reinterpret_cast<{typ}*>(emu::smem_base);')
assert 'extern __shared__' not in body, 'unhandled dynamic shared memory declaration'
open(out_path, 'w').write(body)
