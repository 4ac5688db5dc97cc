@0xd5a2c5c3a0b9e8f1;
struct Q { const k :Int32 = 2; f @0 :Int32 = k; }
