//go:build amd64 && !purego

#include "textflag.h"

// AVX2 + FMA kernels. Each handles a length that is a multiple of its step;
// the Go callers do the tail. Accumulators go back to Go as lanes so that
// the final reduction order is fixed and shared with the tests.

// func dot4x16(r0 *float32, stride int, q *float32, n int, acc *[32]float32)
// acc[8r : 8r+8] = lanes of Σ row_r[j]*q[j] for j < n, row_r = r0 + r*stride.
// n is a positive multiple of 16.
TEXT ·dot4x16(SB), NOSPLIT, $0-40
	MOVQ r0+0(FP), SI
	MOVQ stride+8(FP), DX
	SHLQ $2, DX
	MOVQ q+16(FP), DI
	MOVQ n+24(FP), CX
	SHLQ $2, CX
	MOVQ acc+32(FP), AX
	LEAQ (SI)(DX*1), R8
	LEAQ (R8)(DX*1), R9
	LEAQ (R9)(DX*1), R10
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15
	XORQ BX, BX

dotloop:
	VMOVUPS     (DI)(BX*1), Y0
	VMOVUPS     32(DI)(BX*1), Y1
	VFMADD231PS (SI)(BX*1), Y0, Y8
	VFMADD231PS 32(SI)(BX*1), Y1, Y9
	VFMADD231PS (R8)(BX*1), Y0, Y10
	VFMADD231PS 32(R8)(BX*1), Y1, Y11
	VFMADD231PS (R9)(BX*1), Y0, Y12
	VFMADD231PS 32(R9)(BX*1), Y1, Y13
	VFMADD231PS (R10)(BX*1), Y0, Y14
	VFMADD231PS 32(R10)(BX*1), Y1, Y15
	ADDQ        $64, BX
	CMPQ        BX, CX
	JLT         dotloop

	VADDPS  Y9, Y8, Y8
	VADDPS  Y11, Y10, Y10
	VADDPS  Y13, Y12, Y12
	VADDPS  Y15, Y14, Y14
	VMOVUPS Y8, (AX)
	VMOVUPS Y10, 32(AX)
	VMOVUPS Y12, 64(AX)
	VMOVUPS Y14, 96(AX)
	VZEROUPPER
	RET

// func dot4x8i8(r0 *int8, stride int, q *float32, n int, acc *[32]float32)
// As dot4x16 for int8 rows (stride in bytes), n a positive multiple of 8.
TEXT ·dot4x8i8(SB), NOSPLIT, $0-40
	MOVQ r0+0(FP), SI
	MOVQ stride+8(FP), DX
	MOVQ q+16(FP), DI
	MOVQ n+24(FP), CX
	MOVQ acc+32(FP), AX
	LEAQ (SI)(DX*1), R8
	LEAQ (R8)(DX*1), R9
	LEAQ (R9)(DX*1), R10
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	XORQ BX, BX

i8loop:
	VMOVUPS     (DI)(BX*4), Y0
	VPMOVSXBD   (SI)(BX*1), Y1
	VPMOVSXBD   (R8)(BX*1), Y2
	VPMOVSXBD   (R9)(BX*1), Y3
	VPMOVSXBD   (R10)(BX*1), Y4
	VCVTDQ2PS   Y1, Y1
	VCVTDQ2PS   Y2, Y2
	VCVTDQ2PS   Y3, Y3
	VCVTDQ2PS   Y4, Y4
	VFMADD231PS Y0, Y1, Y8
	VFMADD231PS Y0, Y2, Y9
	VFMADD231PS Y0, Y3, Y10
	VFMADD231PS Y0, Y4, Y11
	ADDQ        $8, BX
	CMPQ        BX, CX
	JLT         i8loop

	VMOVUPS Y8, (AX)
	VMOVUPS Y9, 32(AX)
	VMOVUPS Y10, 64(AX)
	VMOVUPS Y11, 96(AX)
	VZEROUPPER
	RET

// func sum32(p *float32, n int, acc *[8]float32)
// acc = lanes of Σ p[j] for j < n, n a positive multiple of 32.
TEXT ·sum32(SB), NOSPLIT, $0-24
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	SHLQ $2, CX
	MOVQ acc+16(FP), AX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ BX, BX

sumloop:
	VADDPS (SI)(BX*1), Y0, Y0
	VADDPS 32(SI)(BX*1), Y1, Y1
	VADDPS 64(SI)(BX*1), Y2, Y2
	VADDPS 96(SI)(BX*1), Y3, Y3
	ADDQ   $128, BX
	CMPQ   BX, CX
	JLT    sumloop

	VADDPS  Y1, Y0, Y0
	VADDPS  Y3, Y2, Y2
	VADDPS  Y2, Y0, Y0
	VMOVUPS Y0, (AX)
	VZEROUPPER
	RET

// func sumBytes128(p *int8, n int) uint64
// Σ of the bytes of p[:n] as unsigned values, n a positive multiple of 128.
TEXT ·sumBytes128(SB), NOSPLIT, $0-24
	MOVQ   p+0(FP), SI
	MOVQ   n+8(FP), CX
	VPXOR  Y7, Y7, Y7
	VPXOR  Y0, Y0, Y0
	VPXOR  Y1, Y1, Y1
	VPXOR  Y2, Y2, Y2
	VPXOR  Y3, Y3, Y3
	XORQ   BX, BX

byteloop:
	VPSADBW (SI)(BX*1), Y7, Y4
	VPADDQ  Y4, Y0, Y0
	VPSADBW 32(SI)(BX*1), Y7, Y5
	VPADDQ  Y5, Y1, Y1
	VPSADBW 64(SI)(BX*1), Y7, Y6
	VPADDQ  Y6, Y2, Y2
	VPSADBW 96(SI)(BX*1), Y7, Y4
	VPADDQ  Y4, Y3, Y3
	ADDQ    $128, BX
	CMPQ    BX, CX
	JLT     byteloop

	VPADDQ       Y1, Y0, Y0
	VPADDQ       Y3, Y2, Y2
	VPADDQ       Y2, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDQ       X1, X0, X0
	VPSHUFD      $0x4e, X0, X1
	VPADDQ       X1, X0, X0
	VMOVQ        X0, AX
	MOVQ         AX, ret+16(FP)
	VZEROUPPER
	RET
