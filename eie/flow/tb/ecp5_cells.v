// Behavioural models of the ECP5 primitives eie instantiates (DP16KD, MULT18X18D; a subset), for co-simulation
// of the ECP5-flavoured netlist (HWConfig(vendor="ecp5")); synthesis uses the vendor cells.
//
// DP16KD: true dual-port 18 Kbit block RAM.  Modelled: DATA_WIDTH 1/2/4/9/18 (the same on
// both ports), the word address in AD[13:s] (s = 0,1,2,3,4 for width 1,2,4,9,18; in x18 mode
// AD[1:0] are byte write enables), CE, WE, OCE, REGMODE NOREG/OUTREG (OUTREG: one more
// register after the array read latch), WRITEMODE NORMAL (a write leaves the port's output
// unchanged).  Chip selects, resets, GSR and INITVAL are not modelled (eie ties them off).
`timescale 1ns/1ps
module DP16KD (
  DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0, ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0, CEA, OCEA, CLKA, WEA, RSTA, CSA2, CSA1, CSA0, DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0, ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0, CEB, OCEB, CLKB, WEB, RSTB, CSB2, CSB1, CSB0,
  DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0, DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0
);
  input DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0, ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0, CEA, OCEA, CLKA, WEA, RSTA, CSA2, CSA1, CSA0, DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0, ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0, CEB, OCEB, CLKB, WEB, RSTB, CSB2, CSB1, CSB0;
  output DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0, DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0;
  parameter DATA_WIDTH_A = 18;
  parameter DATA_WIDTH_B = 18;
  parameter REGMODE_A = "NOREG";
  parameter REGMODE_B = "NOREG";
  parameter RESETMODE = "SYNC";
  parameter ASYNC_RESET_RELEASE = "SYNC";
  parameter CSDECODE_A = "0b000";
  parameter CSDECODE_B = "0b000";
  parameter WRITEMODE_A = "NORMAL";
  parameter WRITEMODE_B = "NORMAL";
  parameter GSR = "ENABLED";

  localparam W = DATA_WIDTH_A;
  localparam S = (W == 1) ? 0 : (W == 2) ? 1 : (W == 4) ? 2 : (W == 9) ? 3 : 4;
  localparam DEPTH = 16384 >> S;
  reg [W-1:0] mem [0:DEPTH-1];
  wire [17:0] dia = {DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0};
  wire [17:0] dib = {DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0};
  wire [13:0] ada = {ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0};
  wire [13:0] adb = {ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0};
  wire [13-S:0] wa = ada[13:S];
  wire [13-S:0] wb = adb[13:S];
  reg [W-1:0] lat_a = 0, lat_b = 0, out_a = 0, out_b = 0;
  integer i;
  initial for (i = 0; i < DEPTH; i = i + 1) mem[i] = 0;
  always @(posedge CLKA) begin
    if (CEA) begin
      if (WEA) mem[wa] <= dia[W-1:0];
      else lat_a <= mem[wa];
    end
    if (OCEA) out_a <= lat_a;
  end
  always @(posedge CLKB) begin
    if (CEB) begin
      if (WEB) mem[wb] <= dib[W-1:0];
      else lat_b <= mem[wb];
    end
    if (OCEB) out_b <= lat_b;
  end
  wire [17:0] doa = (REGMODE_A == "OUTREG") ? out_a : lat_a;
  wire [17:0] dob = (REGMODE_B == "OUTREG") ? out_b : lat_b;
  assign {DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0} = doa;
  assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0} = dob;
endmodule

// MULT18X18D: 18 x 18 multiplier.  Modelled: A, B, SIGNEDA/SIGNEDB, the input registers of A
// and B, the pipeline and output registers (each on CLK0/CE0 when its REG_*_CLK is "CLK0",
// else bypassed), P[35:0].  Not modelled: C, cascades (SRI/SRO), RO*, resets, other clocks.
module MULT18X18D (
  input A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0,
  input B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0,
  input C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0,
  input SIGNEDA, SIGNEDB, SOURCEA, SOURCEB,
  input CLK3, CLK2, CLK1, CLK0, CE3, CE2, CE1, CE0, RST3, RST2, RST1, RST0,
  output P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18,
  output P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0
);
  parameter REG_INPUTA_CLK = "NONE";
  parameter REG_INPUTA_CE = "CE0";
  parameter REG_INPUTA_RST = "RST0";
  parameter REG_INPUTB_CLK = "NONE";
  parameter REG_INPUTB_CE = "CE0";
  parameter REG_INPUTB_RST = "RST0";
  parameter REG_INPUTC_CLK = "NONE";
  parameter REG_INPUTC_CE = "CE0";
  parameter REG_INPUTC_RST = "RST0";
  parameter REG_PIPELINE_CLK = "NONE";
  parameter REG_PIPELINE_CE = "CE0";
  parameter REG_PIPELINE_RST = "RST0";
  parameter REG_OUTPUT_CLK = "NONE";
  parameter REG_OUTPUT_CE = "CE0";
  parameter REG_OUTPUT_RST = "RST0";
  parameter CLK0_DIV = "ENABLED";
  parameter CLK1_DIV = "ENABLED";
  parameter CLK2_DIV = "ENABLED";
  parameter CLK3_DIV = "ENABLED";
  parameter HIGHSPEED_CLK = "NONE";
  parameter GSR = "ENABLED";
  parameter CAS_MATCH_REG = "FALSE";
  parameter SOURCEB_MODE = "B_SHIFT";
  parameter MULT_BYPASS = "DISABLED";
  parameter RESETMODE = "SYNC";

  wire [17:0] a = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
  wire [17:0] b = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};
  reg [17:0] a_r = 0, b_r = 0;
  reg sa_r = 0, sb_r = 0;
  always @(posedge CLK0) if (CE0) begin a_r <= a; b_r <= b; sa_r <= SIGNEDA; sb_r <= SIGNEDB; end
  wire [17:0] ai = (REG_INPUTA_CLK == "CLK0") ? a_r : a;
  wire [17:0] bi = (REG_INPUTB_CLK == "CLK0") ? b_r : b;
  wire sa = (REG_INPUTA_CLK == "CLK0") ? sa_r : SIGNEDA;
  wire sb = (REG_INPUTB_CLK == "CLK0") ? sb_r : SIGNEDB;
  wire signed [36:0] ax = {sa & ai[17], sa & ai[17], sa & ai[17], sa & ai[17], sa & ai[17], sa & ai[17],
                           sa & ai[17], sa & ai[17], sa & ai[17], sa & ai[17], sa & ai[17], sa & ai[17],
                           sa & ai[17], sa & ai[17], sa & ai[17], sa & ai[17], sa & ai[17], sa & ai[17],
                           sa & ai[17], ai};
  wire signed [36:0] bx = {sb & bi[17], sb & bi[17], sb & bi[17], sb & bi[17], sb & bi[17], sb & bi[17],
                           sb & bi[17], sb & bi[17], sb & bi[17], sb & bi[17], sb & bi[17], sb & bi[17],
                           sb & bi[17], sb & bi[17], sb & bi[17], sb & bi[17], sb & bi[17], sb & bi[17],
                           sb & bi[17], bi};
  wire signed [36:0] prod = ax * bx;
  reg [35:0] pipe_r = 0, out_r = 0;
  always @(posedge CLK0) if (CE0) pipe_r <= prod[35:0];
  wire [35:0] pp = (REG_PIPELINE_CLK == "CLK0") ? pipe_r : prod[35:0];
  always @(posedge CLK0) if (CE0) out_r <= pp;
  wire [35:0] po = (REG_OUTPUT_CLK == "CLK0") ? out_r : pp;
  assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18,
          P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = po;
endmodule
