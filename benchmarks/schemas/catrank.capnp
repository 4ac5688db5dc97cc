@0xee7b06a808dfc715;
# catrank: the client sends search hits, the server rescores them by their snippet
# (pages about cats up, pages about dogs down) and returns them best first.

struct Hit {
  url @0 :Text;
  score @1 :Float64;
  snippet @2 :Text;
}

struct HitList {
  hits @0 :List(Hit);
}
