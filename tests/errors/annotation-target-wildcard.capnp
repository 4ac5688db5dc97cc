@0xd5a2c5c3a0b9e8f1;
annotation c(*, struct) :Void;
