@0xe0a1b2c3d4e5f618;
annotation mark(struct) :Void;
