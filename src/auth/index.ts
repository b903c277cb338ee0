export { jwtUser, type JwtUser, type JwtUserOptions } from "./jwt-user.ts";
